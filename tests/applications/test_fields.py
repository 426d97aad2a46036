"""Bad answers to dates, numbers and confirmations are field errors, never 500s."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from portal import toolkit as tk


class DatesForm(tk.ServiceForm):
    born = tk.DateField("Date of birth", [tk.InputRequired("Enter your date of birth")],
                        past_only=True)
    copies = tk.WholeNumberField("Copies", [tk.Optional()], minimum=1, maximum=10)


def _errors(app, **data):
    pairs = MultiDict()
    for key, value in data.items():
        for item in value if isinstance(value, list) else [value]:
            pairs.add(key, item)
    with app.test_request_context(method="POST"):
        form = DatesForm(formdata=pairs, meta={"csrf": False})
        form.validate()
        return {name: [str(e) for e in errors] for name, errors in form.errors.items()}


@pytest.mark.parametrize(("parts", "message"), [
    (["30", "2", "2000"], "Enter a real date"),
    (["31", "13", "1990"], "Enter a real date"),
    (["a", "1", "1990"], "as numbers"),
    (["1", "1"], "as numbers"),
    (["1", "1", "3000"], "Enter a real date"),
    (["", "", ""], "Enter your date of birth"),
])
def test_impossible_or_incomplete_dates_get_a_field_error(app, parts, message):
    errors = _errors(app, born=parts)
    assert message in errors["born"][0]


def test_a_birth_date_in_the_future_gets_a_field_error(app):
    errors = _errors(app, born=["1", "1", "2200"])
    assert "today or in the past" in errors["born"][0]


def test_a_real_date_in_the_past_is_accepted(app):
    assert _errors(app, born=["29", "2", "2000"]) == {}


@pytest.mark.parametrize("value", ["two", "0", "11", "-1", "1.5", "9" * 20])
def test_numbers_out_of_range_or_not_whole_get_a_field_error(app, value):
    errors = _errors(app, born=["1", "1", "2000"], copies=value)
    assert errors["copies"]


def test_upload_field_refuses_unknown_kinds():
    with pytest.raises(ValueError, match="upload kinds"):
        tk.UploadField("Document", kinds=("exe",))
