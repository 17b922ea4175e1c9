-- The check of every exception id in the review file (registered as review_file_ids) the store knows.
SELECT DISTINCT history.exception_id, history.check_id
FROM exception_history AS history
JOIN review_file_ids ON review_file_ids.exception_id = history.exception_id
