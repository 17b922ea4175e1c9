-- `caseflags users add --professional ID`: is ID one of the store's workers? (name, for the message)
SELECT prof_professional_name FROM ssd_professionals WHERE prof_professional_id = $professional LIMIT 1
