"""The service catalogue: every active service by topic and department, search, start pages."""
