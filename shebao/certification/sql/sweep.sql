-- 生存认证到期清理 on day %(on)s: ONE statement. Every active enrollment of a living person whose due
-- date (last certification on or before the day, else the first paid month, + the scheme's cycle) has
-- a due month before the day's month (grace ends with the due month) is suspended for 未提供生存证明
-- from the month after the scheme's latest computed regular run, or the day's month if later (never
-- before its first paid month, never after its last, never overlapping an earlier suspension).
-- The UPDATE re-checks the status under the row lock: running it again the same day suspends nobody.
WITH latest AS (
    SELECT scheme_id, max(period) AS period
    FROM payroll_payrollrun WHERE kind = 'regular' GROUP BY scheme_id
), last_cert AS MATERIALIZED (
    SELECT person_id, max(certified_on) AS d
    FROM certification_certification WHERE certified_on <= %(on)s GROUP BY person_id
), cand AS MATERIALIZED (
    SELECT e.id, e.person_id, p.name, e.end_month,
           GREATEST(%(month)s::date, (l.period + interval '1 month')::date, e.start_month) AS from_month
    FROM benefits_enrollment e
    JOIN registry_person p ON p.id = e.person_id
    LEFT JOIN last_cert c ON c.person_id = e.person_id
    LEFT JOIN certification_schemecycle y ON y.scheme_id = e.scheme_id
    LEFT JOIN latest l ON l.scheme_id = e.scheme_id
    WHERE e.payment_status = 'active' AND p.death_date IS NULL
      AND date_trunc('month', COALESCE(c.d, e.start_month)
                              + make_interval(months => COALESCE(y.months, %(cycle)s)::int)) < %(month)s::date
), go AS (
    SELECT cand.* FROM cand
    WHERE (cand.end_month IS NULL OR cand.from_month <= cand.end_month)
      AND NOT EXISTS (SELECT 1 FROM benefits_suspension s
                      WHERE s.enrollment_id = cand.id AND (s.to_month IS NULL OR s.to_month >= cand.from_month))
), upd AS (
    UPDATE benefits_enrollment e SET payment_status = 'suspended', updated_at = now()
    FROM go WHERE e.id = go.id AND e.payment_status = 'active'
    RETURNING e.id, go.person_id, go.from_month, go.name
), sus AS (
    INSERT INTO benefits_suspension (enrollment_id, reason_id, pays_on_resume, from_month)
    SELECT id, %(reason)s, %(pays)s, from_month FROM upd
), sc AS (
    INSERT INTO benefits_statuschange (enrollment_id, from_status, to_status, effective_month, event_date,
                                       reason_id, operator_id, note, created_at)
    SELECT id, 'active', 'suspended', from_month, %(on)s, %(reason)s, %(user)s, %(note)s, now() FROM upd
)
SELECT id, person_id, from_month, name FROM upd ORDER BY id
