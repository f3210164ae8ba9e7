-- The yearly run (年度发放): annual_head + pend + annual_base + tail (pend and tail from compute.sql).
-- ``{rule}`` is replaced by the SELECT of the scheme's registered annual rule (payroll.schemes).
-- Loaded once at import by ``shebao.payroll.services`` (``_sql_parts``): each ``-- part: NAME`` line starts a
-- part; every line whose first non-blank characters are ``--`` is a comment and is dropped, the other lines
-- are sent as they are (``test_compute_sql.py`` checks the composed statements against the hash of the
-- text they were when they lived in the Python module). States and kinds are parameters bound from the
-- models' TextChoices (``_STATES``): a renamed state cannot drift from the SQL.
-- The same planner settings as compute.sql: work_mem 256MB and nested loops off (read the notes there).
--
-- A yearly run (年度发放): the scheme's annual rule gives the amounts (its SELECT becomes ``amt``); the
-- payees are the enrollments it names, with the same snapshots of person and account, the same pending
-- 补发/扣减 and the same lines and components as a monthly run (pend and tail of compute.sql).
-- part: annual_head

WITH amt AS MATERIALIZED (
    SELECT r.enrollment_id::bigint AS enrollment_id, r.item_id::bigint AS item_id,
           r.amount::numeric(14, 2) AS amount, left(r.description, 200)::varchar(200) AS description
    FROM ({rule}) r
    WHERE r.amount > 0
), elig AS MATERIALIZED (
    SELECT e.id AS enrollment_id, e.person_id, p.id_number, p.name, b.id AS bank_account_id,
           COALESCE(b.bank, '') AS bank, COALESCE(b.branch, '') AS branch,
           COALESCE(b.account_number, '') AS account_number, COALESCE(b.holder_name, '') AS holder_name
    FROM benefits_enrollment e
    JOIN registry_person p ON p.id = e.person_id
    LEFT JOIN registry_bankaccount b ON b.person_id = e.person_id AND b.valid_to IS NULL
    WHERE e.scheme_id = %(scheme)s AND e.id IN (SELECT enrollment_id FROM amt)
-- part: annual_base
), base AS MATERIALIZED (
    SELECT a.enrollment_id, %(item)s::varchar(10) AS kind, a.item_id, NULL::bigint AS adjustment_id,
           a.amount, COALESCE(NULLIF(a.description, ''), i.name, '年度发放')::varchar(200) AS description
    FROM amt a
    LEFT JOIN benefits_benefititem i ON i.id = a.item_id
    UNION ALL
    SELECT pe.enrollment_id, %(arrears)s, NULL, pe.id, pe.remaining, pe.reason
    FROM pend pe WHERE pe.kind = %(adjustment_arrears)s
