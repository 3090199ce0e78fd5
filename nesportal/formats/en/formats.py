"""English: 9 Nov 2029 and 9 Nov 2029, 22:14.

The month is written in letters because 09/11/2029 means 9 November in Britain and 11 September
in the United States; the 24-hour clock is the one the Turkish pages and the SMS use (the times
are Istanbul time), so the same moment never reads "10:14 p.m." on one page and 22:14 on another.
"""

DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "j M Y, H:i"
SHORT_DATE_FORMAT = "j M Y"
SHORT_DATETIME_FORMAT = "j M Y, H:i"
TIME_FORMAT = "H:i"
