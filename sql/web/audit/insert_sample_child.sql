INSERT INTO audit_sample_children (sample_id, person_id, position, role, age_band, need_type, weight,
                                   open_exceptions, distinct_concerns, reasons)
VALUES (:sample_id, :person_id, :position, :role, :age_band, :need_type, :weight, :open, :concerns, :reasons)
