-- Run inside the web snapshot being published (caseflags.outputs.snapshot): the night being
-- completed shows COMPLETED there, as the store will once the snapshot is in place.
UPDATE runs SET status = 'COMPLETED', finished_at = $finished_at WHERE run_id = $run_id;
