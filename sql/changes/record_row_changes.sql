-- One table's counts for this run (a rerun of the run id replaces them).
DELETE FROM row_changes WHERE run_id = $run_id AND table_name = $table_name;
INSERT INTO row_changes VALUES ($run_id, $table_name, $keyed, $baseline, $rows_new, $rows_changed, $rows_gone,
                                $rows_unchanged, $hash_basis);
