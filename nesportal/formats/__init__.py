"""The portal's date formats (``FORMAT_MODULE_PATH``): one Turkish and one English way of writing
a date, so that ``{{ value|date }}``, ``|date:"DATETIME_FORMAT"`` and ``date_format()`` agree
with the dates the templates write. Input formats are Django's own (not overridden here)."""
