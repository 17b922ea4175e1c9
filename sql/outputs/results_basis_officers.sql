-- Officers' part of a run's results basis (caseflags.outputs.reuse): reviews imported or carried
-- (annotations) and link decisions, each as a count and two order-independent row hashes.
SELECT 'annotations' AS source, count(*) AS row_count, bit_xor(hash(a)) AS hash_xor, sum(hash(a)) AS hash_sum
FROM annotations AS a
UNION ALL
SELECT 'link_decisions', count(*), bit_xor(hash(d)), sum(hash(d))
FROM link_decisions AS d
ORDER BY source;
