-- A name search has a handful of words, not the thousand rows PostgreSQL assumes for a
-- set-returning function. With the default estimate the planner chose to read a whole
-- clinic's search tokens and filter them (50 ms at 20,000 patients, measured on the
-- benchmark data) instead of one index range scan per word (about 1 ms).
ALTER FUNCTION search_tokens(text) ROWS 3;
