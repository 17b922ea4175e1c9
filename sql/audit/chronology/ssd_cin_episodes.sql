-- Chronology events from ssd_cin_episodes (reads: ssd_cin_episodes).
-- Columns: event_date, agency, source_table, event_type, description, record_id.
SELECT cine_referral_date AS event_date, 'SOCIAL_CARE' AS agency, 'ssd_cin_episodes' AS source_table,
       'Referral' AS event_type,
       concat('CIN referral ', cine_referral_id, ', primary need ', coalesce(CAST(cine_cin_primary_need_code AS VARCHAR), 'not recorded'))
           AS description,
       cine_referral_id AS record_id
FROM ssd_cin_episodes WHERE cine_person_id = $person_id
UNION ALL
SELECT cine_close_date, 'SOCIAL_CARE', 'ssd_cin_episodes', 'CIN episode closed',
       concat('CIN episode ', cine_referral_id, ' closed, reason ', coalesce(CAST(cine_close_reason AS VARCHAR), 'not recorded')),
       cine_referral_id
FROM ssd_cin_episodes WHERE cine_person_id = $person_id AND cine_close_date IS NOT NULL
