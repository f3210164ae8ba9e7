-- A run against the scheme's previous run of the same kind (payroll.selectors.payroll_run_compare):
-- the payees added, stopped and with a changed amount, with the cause. Set-based: each run's lines
-- with their component sums (items, 补发) in one GROUP BY, the two joined by payee (person, or an
-- organisation payee), counted and numbered by window functions so that only the counts and the first
-- rows of each group leave the database (a raise month changes every line of a run).
-- part: diff
WITH c AS (
    SELECT l.id, COALESCE(l.person_id, -l.payee_id) AS k, l.person_id, l.enrollment_id, l.name, l.id_number,
           l.gross, l.deductions, l.net,
           COALESCE(sum(pc.amount) FILTER (WHERE pc.kind = %(item)s), 0) AS items,
           COALESCE(sum(pc.amount) FILTER (WHERE pc.kind = %(arrears)s), 0) AS arrears
    FROM payroll_payrollline l LEFT JOIN payroll_payrollcomponent pc ON pc.line_id = l.id
    WHERE l.run_id = %(run)s
    GROUP BY l.id
), p AS (
    SELECT l.id, COALESCE(l.person_id, -l.payee_id) AS k, l.person_id, l.enrollment_id, l.name, l.id_number,
           l.gross, l.deductions, l.net,
           COALESCE(sum(pc.amount) FILTER (WHERE pc.kind = %(item)s), 0) AS items,
           COALESCE(sum(pc.amount) FILTER (WHERE pc.kind = %(arrears)s), 0) AS arrears
    FROM payroll_payrollline l LEFT JOIN payroll_payrollcomponent pc ON pc.line_id = l.id
    WHERE l.run_id = %(prev)s
    GROUP BY l.id
), d AS (
    SELECT CASE WHEN p.id IS NULL THEN 'added' WHEN c.id IS NULL THEN 'stopped' ELSE 'changed' END AS what,
           COALESCE(c.id, p.id) AS line_id, COALESCE(c.person_id, p.person_id) AS person_id,
           COALESCE(c.enrollment_id, p.enrollment_id) AS enrollment_id,
           COALESCE(c.name, p.name) AS name, COALESCE(c.id_number, p.id_number) AS id_number,
           p.net AS prev_net, c.net AS net, p.items AS prev_items, c.items AS items,
           p.arrears AS prev_arrears, c.arrears AS arrears, p.deductions AS prev_deductions,
           c.deductions AS deductions
    FROM c FULL JOIN p ON p.k = c.k
    WHERE p.id IS NULL OR c.id IS NULL OR c.net <> p.net OR c.gross <> p.gross
), e AS (
    SELECT d.*,
           d.what = 'changed' AND d.items <> d.prev_items AS by_raise,
           d.what = 'changed' AND d.arrears <> d.prev_arrears AS by_arrears,
           d.what = 'changed' AND d.deductions <> d.prev_deductions AS by_deduction,
           CASE
             WHEN d.what = 'added' AND en.start_month > %(prev_period)s THEN 'new'
             WHEN d.what = 'added' THEN 'resumed'
             WHEN d.what = 'stopped' AND en.end_month IS NOT NULL AND en.end_month < %(period)s THEN 'ended'
             WHEN d.what = 'stopped' AND EXISTS (SELECT 1 FROM benefits_suspension s WHERE s.enrollment_id = en.id
                     AND s.from_month <= %(period)s AND (s.to_month IS NULL OR s.to_month >= %(period)s))
                  THEN 'suspended'
             WHEN d.what IN ('added', 'stopped') THEN 'other'
           END AS status_cause
    FROM d LEFT JOIN benefits_enrollment en ON en.id = d.enrollment_id
)
SELECT what, line_id, person_id, name, id_number, prev_net, net, by_raise, by_arrears, by_deduction, status_cause,
       n, n_raise, n_arrears, n_deduction, n_new, n_resumed, n_ended, n_suspended, delta
FROM (
    SELECT e.*, row_number() OVER (PARTITION BY what ORDER BY id_number, line_id) AS rn,
           count(*) OVER (PARTITION BY what) AS n,
           count(*) FILTER (WHERE by_raise) OVER (PARTITION BY what) AS n_raise,
           count(*) FILTER (WHERE by_arrears) OVER (PARTITION BY what) AS n_arrears,
           count(*) FILTER (WHERE by_deduction) OVER (PARTITION BY what) AS n_deduction,
           count(*) FILTER (WHERE status_cause = 'new') OVER (PARTITION BY what) AS n_new,
           count(*) FILTER (WHERE status_cause = 'resumed') OVER (PARTITION BY what) AS n_resumed,
           count(*) FILTER (WHERE status_cause = 'ended') OVER (PARTITION BY what) AS n_ended,
           count(*) FILTER (WHERE status_cause = 'suspended') OVER (PARTITION BY what) AS n_suspended,
           sum(COALESCE(net, 0) - COALESCE(prev_net, 0)) OVER (PARTITION BY what) AS delta
    FROM e
) x
WHERE rn <= %(limit)s
ORDER BY what, rn
-- part: items
SELECT pc.kind, pc.benefit_item_id, COALESCE(bi.name, ''),
       COALESCE(sum(pc.amount) FILTER (WHERE l.run_id = %(prev)s), 0),
       COALESCE(sum(pc.amount) FILTER (WHERE l.run_id = %(run)s), 0)
FROM payroll_payrollline l
JOIN payroll_payrollcomponent pc ON pc.line_id = l.id
LEFT JOIN benefits_benefititem bi ON bi.id = pc.benefit_item_id
WHERE l.run_id IN (%(run)s, %(prev)s)
GROUP BY pc.kind, pc.benefit_item_id, bi.name, bi.id
ORDER BY CASE pc.kind WHEN %(item)s THEN 0 WHEN %(arrears)s THEN 1 ELSE 2 END, bi.id NULLS LAST
