-- The regular (monthly) compute: payroll_run_compute and payroll_run_recompute of a regular run.
-- The statement is head + pend + base + tail; a yearly run (compute_annual.sql) shares pend and tail.
-- Loaded once at import by ``shebao.payroll.services`` (``_sql_parts``): each ``-- part: NAME`` line starts a
-- part; every line whose first non-blank characters are ``--`` is a comment and is dropped, the other lines
-- are sent as they are (``test_compute_sql.py`` checks the composed statements against the hash of the
-- text they were when they lived in the Python module). States and kinds are parameters bound from the
-- models' TextChoices (``_STATES``): a renamed state cannot drift from the SQL.
--
-- One statement computes and writes a regular run (data-modifying CTEs; no temp table, no query per
-- person). Read it top down:
--   elig   beneficiaries payable in P: start_month ≤ P ≤ end_month (open end), not inside a
--          suspension, not died before P (a death in P is paid for P) — with the person's 身份证号 and
--          name and the current account (the line's snapshots) joined here, once, where the planner
--          knows how many rows to expect;
--   amt    the amounts of the scheme's recurring items in effect in P, read by item
--          (benefits_benefitamount_item_id; the item ids are a parameter) and materialised: only this
--          scheme's amount rows are read. Left to itself the planner either hashed every scheme's
--          amount rows (80k run beside 880k persons: 3.4 s in that join vs 0.7 s) or, worse, chose a
--          merge join over the item index expecting to stop early (minutes);
--   pend   the eligible enrollments' pending 补发 and 扣减 (one hash join with the adjustments);
--   base   the item amounts, and the eligible enrollments' pending arrears (taken whole). Amounts are
--          not joined to elig here: an enrollment that is not payable gets no line (ins joins elig) and
--          so its components find no line at the end — the same result without one 2.4M × 800k join
--          (−12 % backend CPU at 800k, −5–10 % at 80k);
--   g      gross per enrollment (of those that get a line, the same sums as before);
--   ded    pending deductions in recorded order, each at most min(cap, remaining), together at most
--          the gross: with avail_i = min(cap_i, remaining_i) and cum_i = Σ_{j≤i} avail_j,
--          take_i = min(gross, cum_i) − min(gross, cum_i − avail_i)   (the greedy fill as a window);
--   ins    the lines (seq by 身份证号), RETURNING ids;
--   then   the components joined to their new line, in line order.
-- Run with nested loops off (``_fill_regular``): the planner cannot know how many rows an aggregate
-- over a materialised CTE yields (it guesses 200), so it nested every later join — person and account
-- looked up one line at a time (800k index probes each, ≈ 925,000 buffer misses at 800k against ≈ 3,600
-- at 80k: 20 s of an 80 s EXPLAIN ANALYZE),
-- deductions probed per enrollment, and once the 800k lines against the 40k deduction totals
-- (minutes). Every join here is a bulk join; hash joins are right at any size.
-- part: head

WITH elig AS MATERIALIZED (
    SELECT e.id AS enrollment_id, e.person_id, p.id_number, p.name, b.id AS bank_account_id,
           COALESCE(b.bank, '') AS bank, COALESCE(b.branch, '') AS branch,
           COALESCE(b.account_number, '') AS account_number, COALESCE(b.holder_name, '') AS holder_name
    FROM benefits_enrollment e
    JOIN registry_person p ON p.id = e.person_id
    LEFT JOIN registry_bankaccount b ON b.person_id = e.person_id AND b.valid_to IS NULL
    WHERE e.scheme_id = %(scheme)s
      AND e.start_month <= %(period)s
      AND (e.end_month IS NULL OR e.end_month >= %(period)s)
      AND (p.death_date IS NULL OR p.death_date >= %(period)s)
      AND NOT EXISTS (
          SELECT 1 FROM benefits_suspension s
          WHERE s.enrollment_id = e.id AND s.from_month <= %(period)s
            AND (s.to_month IS NULL OR s.to_month >= %(period)s))
), amt AS MATERIALIZED (
    SELECT a.enrollment_id, a.item_id, a.amount
    FROM benefits_benefitamount a
    WHERE a.item_id = ANY(%(items)s::bigint[])
      AND a.from_month <= %(period)s AND (a.to_month IS NULL OR a.to_month >= %(period)s) AND a.amount > 0
-- pend: the pending 补发 (arrears) and 扣减 (deduction) of the payable enrollments
-- part: pend
), pend AS MATERIALIZED (
    SELECT ad.id, ad.enrollment_id, ad.kind, ad.remaining, ad.monthly_cap, ad.created_at,
           left(ad.reason, 200) AS reason
    FROM benefits_adjustment ad
    JOIN elig el ON el.enrollment_id = ad.enrollment_id
    WHERE ad.state = %(adjustment_pending)s AND ad.kind IN (%(adjustment_arrears)s, %(adjustment_deduction)s) AND ad.remaining > 0
-- base: the item amounts and the pending arrears, not joined to elig (see above)
-- part: base
), base AS MATERIALIZED (
    SELECT a.enrollment_id, %(item)s::varchar(10) AS kind, a.item_id, NULL::bigint AS adjustment_id,
           a.amount, i.name::varchar(200) AS description
    FROM amt a
    JOIN benefits_benefititem i ON i.id = a.item_id
    UNION ALL
    SELECT pe.enrollment_id, %(arrears)s, NULL, pe.id, pe.remaining, pe.reason
    FROM pend pe WHERE pe.kind = %(adjustment_arrears)s
-- g onward: gross, deductions, the lines and their components (shared by the monthly and yearly runs)
-- part: tail
), g AS MATERIALIZED (
    SELECT enrollment_id, sum(amount) AS gross FROM base GROUP BY enrollment_id
), d AS (
    SELECT pe.id, pe.enrollment_id, g.gross, pe.reason,
           LEAST(pe.remaining, COALESCE(pe.monthly_cap, pe.remaining)) AS avail,
           sum(LEAST(pe.remaining, COALESCE(pe.monthly_cap, pe.remaining)))
               OVER (PARTITION BY pe.enrollment_id ORDER BY pe.created_at, pe.id) AS cum
    FROM pend pe
    JOIN g ON g.enrollment_id = pe.enrollment_id
    WHERE pe.kind = %(adjustment_deduction)s
), ded AS MATERIALIZED (
    SELECT enrollment_id, %(deduction)s::varchar(10) AS kind, NULL::bigint AS item_id, id AS adjustment_id,
           LEAST(gross, cum) - LEAST(gross, cum - avail) AS amount, reason::varchar(200) AS description
    FROM d WHERE LEAST(gross, cum) - LEAST(gross, cum - avail) > 0
), ins AS (
    INSERT INTO payroll_payrollline
        (run_id, seq, person_id, enrollment_id, id_number, name, bank_account_id, bank, branch, account_number,
         holder_name, gross, deductions, net, status, paid_amount, fail_reason, memo, write_off_reason)
    SELECT %(run)s, row_number() OVER (ORDER BY el.id_number), el.person_id, el.enrollment_id, el.id_number,
           el.name, el.bank_account_id, el.bank, el.branch, el.account_number, el.holder_name,
           g.gross, COALESCE(t.taken, 0), g.gross - COALESCE(t.taken, 0), %(pending)s, 0, '', %(memo)s, ''
    FROM elig el
    JOIN g ON g.enrollment_id = el.enrollment_id
    LEFT JOIN (SELECT enrollment_id, sum(amount) AS taken FROM ded GROUP BY enrollment_id) t
           ON t.enrollment_id = el.enrollment_id
    WHERE g.gross > 0
    RETURNING id, enrollment_id
)
INSERT INTO payroll_payrollcomponent (line_id, kind, benefit_item_id, adjustment_id, amount, description)
SELECT ins.id, c.kind, c.item_id, c.adjustment_id, c.amount, c.description
FROM (SELECT * FROM base UNION ALL SELECT * FROM ded) c
JOIN ins ON ins.enrollment_id = c.enrollment_id
ORDER BY ins.id
