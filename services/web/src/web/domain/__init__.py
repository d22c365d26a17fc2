"""Plain rules of the pages (weeks of free times, plan proposals, money and time wording), no Flask."""
