// Starts the GOV.UK Frontend components (error summary focus, password reveal, etc.).
import { initAll } from './govuk/govuk-frontend.min.js'

initAll()
