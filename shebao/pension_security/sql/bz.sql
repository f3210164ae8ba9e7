-- 养老保障 (BZ) statements. Read by shebao.common.sqlfiles (``-- part: NAME`` starts a part; other
-- comment lines are dropped). Literals of the models are parameters.

-- part: conversion_candidates
-- 到龄转换 candidates of month %(month)s: members on 生活补助 with an enrollment 正常 or 暂停, not yet
-- converted; conversion month = the month after the birthday month of the category's age for the
-- person's sex (make_date of the birth month in the year birth + age: day 31 or 29 February never
-- matter); only those whose conversion month is ≤ the month and after their first paid month. The
-- 养老金 standard in effect in the conversion month and the current open amounts come by index lookups.
WITH cand AS MATERIALIZED (
    SELECT m.id AS member_id, m.person_id, m.enrollment_id, m.category_id, c.name AS category,
           p.id_number, p.name, p.birth_date, e.start_month,
           CASE WHEN p.sex = 'M' THEN c.conversion_age_male ELSE c.conversion_age_female END AS age
    FROM pension_security_member m
    JOIN pension_security_category c ON c.id = m.category_id
    JOIN registry_person p ON p.id = m.person_id
    JOIN benefits_enrollment e ON e.id = m.enrollment_id
    WHERE m.phase = %(subsidy)s AND e.payment_status IN (%(active)s, %(suspended)s)
      AND NOT EXISTS (SELECT 1 FROM pension_security_conversion v WHERE v.member_id = m.id)
), due AS MATERIALIZED (
    SELECT cand.*,
           (make_date(extract(year FROM birth_date)::int + age, extract(month FROM birth_date)::int, 1)
            + interval '1 month')::date AS conv_month
    FROM cand
)
SELECT d.member_id, d.person_id, d.enrollment_id, d.category, d.id_number, d.name, d.age, d.conv_month,
       (SELECT s.amount FROM pension_security_categorystandard s
        WHERE s.category_id = d.category_id AND s.phase = %(pension)s AND s.from_month <= d.conv_month
        ORDER BY s.from_month DESC LIMIT 1) AS pension_amount,
       (SELECT jsonb_object_agg(i.code, a.amount::text)::text FROM benefits_benefitamount a
        JOIN benefits_benefititem i ON i.id = a.item_id
        WHERE a.enrollment_id = d.enrollment_id AND a.to_month IS NULL) AS before
FROM due d
WHERE d.conv_month <= %(month)s AND d.conv_month > d.start_month
ORDER BY d.id_number

-- part: received_total
-- BZ money the bank confirmed paid to a person (lines 已支付 of any run of the scheme).
SELECT sum(l.paid_amount)
FROM payroll_payrollline l
JOIN payroll_payrollrun r ON r.id = l.run_id
JOIN benefits_scheme s ON s.id = r.scheme_id
WHERE l.person_id = %(person)s AND s.code = %(scheme)s AND l.status = %(paid)s

-- part: payable_paid
-- 应付/实付: every line of a BZ regular run (approved or later) is the root of a chain of re-issues
-- (origin_line); paid = Σ paid_amount of the chain's lines 已支付, written off = Σ net of its lines
-- 已核销; owed = payable − paid − written off. The recursive step follows the partial index
-- payrollline_origin.
WITH RECURSIVE base AS MATERIALIZED (
    SELECT l.id AS root, l.id, l.person_id, r.period, l.net AS payable
    FROM payroll_payrollline l
    JOIN payroll_payrollrun r ON r.id = l.run_id
    JOIN benefits_scheme s ON s.id = r.scheme_id
    WHERE s.code = %(scheme)s AND r.kind = %(regular)s AND r.state <> %(computed)s
      AND (%(from)s::date IS NULL OR r.period >= %(from)s::date)
      AND (%(to)s::date IS NULL OR r.period <= %(to)s::date)
      AND (%(person)s::bigint IS NULL OR l.person_id = %(person)s::bigint)
), chain AS (
    SELECT b.root, l.id, l.status, l.paid_amount, l.net
    FROM base b JOIN payroll_payrollline l ON l.id = b.id
    UNION ALL
    SELECT c.root, l.id, l.status, l.paid_amount, l.net
    FROM chain c JOIN payroll_payrollline l ON l.origin_line_id = c.id
), agg AS (
    SELECT root,
           sum(CASE WHEN status = %(paid)s THEN paid_amount ELSE 0 END) AS paid,
           sum(CASE WHEN status = %(written_off)s THEN net ELSE 0 END) AS written_off
    FROM chain GROUP BY root
)
SELECT b.person_id, p.id_number, p.name, t.name AS town, t.sort AS town_sort, coalesce(c.name, '') AS category,
       b.period, b.payable, a.paid, a.written_off, b.payable - a.paid - a.written_off AS owed
FROM base b
JOIN agg a ON a.root = b.root
JOIN registry_person p ON p.id = b.person_id
JOIN registry_region t ON t.id = p.town_id
LEFT JOIN pension_security_member m ON m.person_id = b.person_id
LEFT JOIN pension_security_category c ON c.id = m.category_id
WHERE (%(all_towns)s OR p.town_id = ANY(%(towns)s))

-- part: run_totals
SELECT r.period, sum(r.net)
FROM payroll_payrollrun r JOIN benefits_scheme s ON s.id = r.scheme_id
WHERE s.code = %(scheme)s AND r.kind = %(regular)s AND r.state <> %(computed)s
  AND (%(from)s::date IS NULL OR r.period >= %(from)s::date)
  AND (%(to)s::date IS NULL OR r.period <= %(to)s::date)
GROUP BY r.period ORDER BY r.period

-- part: persons_report
-- Persons by category, status (未核准 when no benefit is approved yet), phase and town.
SELECT c.name AS category, c.sort AS category_sort, coalesce(e.payment_status, 'unapproved') AS status,
       m.phase, t.name AS town, t.sort AS town_sort, count(*) AS persons
FROM pension_security_member m
JOIN pension_security_category c ON c.id = m.category_id
JOIN registry_person p ON p.id = m.person_id
JOIN registry_region t ON t.id = p.town_id
LEFT JOIN benefits_enrollment e ON e.id = m.enrollment_id
WHERE (%(all_towns)s OR p.town_id = ANY(%(towns)s))
GROUP BY 1, 2, 3, 4, 5, 6
ORDER BY 2, 1, 3, 4, 6

-- part: standard_used_months
-- The months in which a category's standards of a phase were used, so that history is not rewritten:
-- the start month of every proposed or approved 待遇核准 of the category and phase; for the 养老金
-- phase every 到龄转换 month of a member of the category; and every month of a BZ payroll run (any
-- kind and state) with a line paying a member of the category the phase's item (%(item)s: living
-- 生活补助, basic 养老保障金).
SELECT DISTINCT month FROM (
    SELECT pr.start_month AS month FROM pension_security_proposal pr
    WHERE pr.category_id = %(category)s AND pr.phase = %(phase)s AND pr.state IN (%(proposed)s, %(approved)s)
    UNION ALL
    SELECT v.month FROM pension_security_conversion v
    JOIN pension_security_member m ON m.id = v.member_id
    WHERE m.category_id = %(category)s AND %(phase)s = %(pension)s
    UNION ALL
    SELECT r.period FROM payroll_payrollrun r
    JOIN benefits_scheme s ON s.id = r.scheme_id
    WHERE s.code = %(scheme)s AND EXISTS (
        SELECT 1 FROM payroll_payrollline l
        JOIN pension_security_member m ON m.person_id = l.person_id
        JOIN payroll_payrollcomponent pc ON pc.line_id = l.id
        JOIN benefits_benefititem i ON i.id = pc.benefit_item_id
        WHERE l.run_id = r.id AND m.category_id = %(category)s AND i.scheme_id = s.id AND i.code = %(item)s)
) u
ORDER BY month
