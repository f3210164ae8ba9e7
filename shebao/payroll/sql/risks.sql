-- The risky lines of one run (models.LineRisk), found set-based and written in one statement.
-- Only lines still 待发 with net > 0 are looked at (what a bank file would take). Read top down:
--   luhn       accounts registered with a check warning (registry_bankaccount/registry_payee.luhn_warning)
--              at a bank whose rule asks for Luhn (registry_bank.luhn_check): none while no bank asks;
--   cand       ONE pass over the run's lines (its (run, seq) index) keeping only the few that may be
--              risky: an account number the bank rejected (payroll_accountrejection, by its account
--              index), a 户名 not the name, an account in luhn — so everything after works on a handful
--              of rows, not on the run's 80,000;
--   cand_rej   the candidates' account numbers the bank rejected in another run (by the account index);
--   rej        per candidate, the latest of those rejections, unless a later run paid that account to
--              the same person or payee (looked up per rejection through the lines' person and payee
--              indexes);
--   confirmed  account numbers (and 户名) a reviewer already released for a holder or Luhn risk in an
--              earlier run: not asked again every month;
--   risky      the kinds and the Chinese explanation per line;
--   gone       the run's unreleased, not held-out rows whose line is no longer risky: removed;
-- then insert the new rows and refresh the kinds of the unreleased ones.
-- part: refresh
WITH luhn AS (
    SELECT b.id AS account_id, NULL::bigint AS payee_id
    FROM registry_bank k JOIN registry_bankaccount b ON b.bank = k.code AND b.luhn_warning
    WHERE k.luhn_check
    UNION ALL
    SELECT NULL::bigint, py.id
    FROM registry_bank k JOIN registry_payee py ON py.bank = k.code AND py.luhn_warning
    WHERE k.luhn_check
), cand AS MATERIALIZED (
    SELECT l.id, l.person_id, l.payee_id, l.name, l.holder_name, l.account_number,
           EXISTS (SELECT 1 FROM luhn WHERE luhn.account_id = l.bank_account_id
                   OR luhn.payee_id = l.payee_id) AS luhn_warning
    FROM payroll_payrollline l
    WHERE l.run_id = %(run)s AND l.status = %(pending)s AND l.net > 0
      AND ((l.holder_name <> l.name AND l.person_id IS NOT NULL AND btrim(l.holder_name) <> ''
            AND btrim(l.holder_name) <> btrim(l.name))  -- the plain comparison first: most are equal
           OR l.account_number IN (SELECT account_number FROM payroll_accountrejection)
           OR l.bank_account_id IN (SELECT account_id FROM luhn WHERE account_id IS NOT NULL)
           OR l.payee_id IN (SELECT payee_id FROM luhn WHERE payee_id IS NOT NULL))
), cand_rej AS MATERIALIZED (
    -- the candidates' accounts the bank rejected in another run: first found (a handful), then checked
    SELECT c.id, f.id AS f_id, f.run_id, f.seq, f.reason, f.person_id, f.payee_id, f.account_number
    FROM cand c
    JOIN payroll_accountrejection f ON f.account_number = c.account_number AND f.run_id <> %(run)s
    WHERE c.account_number <> ''
), rej AS (
    SELECT DISTINCT ON (r.id) r.id, r.run_id AS f_run, r.seq AS f_seq, r.reason AS fail_reason,
           fr.period AS f_period
    FROM cand_rej r
    JOIN payroll_payrollrun fr ON fr.id = r.run_id
    -- scalar subqueries, not NOT EXISTS: run per rejection found above through the person's (payee's)
    -- lines; as anti-joins, planned for the many rows PostgreSQL guessed, they read every paid line of
    -- every run (1.2 s beside 800,000 paid lines for 1,568 candidates, growing with the table)
    WHERE (SELECT true FROM payroll_payrollline p
           WHERE p.person_id = r.person_id AND p.run_id > r.run_id AND p.status = %(paid)s
             AND p.account_number = r.account_number LIMIT 1) IS NULL
      AND (SELECT true FROM payroll_payrollline p
           WHERE p.payee_id = r.payee_id AND p.run_id > r.run_id AND p.status = %(paid)s
             AND p.account_number = r.account_number LIMIT 1) IS NULL
    ORDER BY r.id, r.f_id DESC
), confirmed AS (
    SELECT DISTINCT k.kind, pl.account_number, pl.holder_name
    FROM payroll_linerisk r
    JOIN payroll_payrollline pl ON pl.id = r.line_id
    CROSS JOIN LATERAL unnest(string_to_array(r.kinds, ',')) AS k(kind)
    WHERE r.released_at IS NOT NULL AND r.run_id <> %(run)s AND k.kind IN ('holder', 'luhn')
), flags AS (
    SELECT c.id, c.name, c.holder_name, rej.id IS NOT NULL AS is_rej, rej.f_run, rej.f_seq, rej.fail_reason,
           rej.f_period,
           (c.person_id IS NOT NULL AND btrim(c.holder_name) <> '' AND btrim(c.holder_name) <> btrim(c.name)
            AND NOT EXISTS (SELECT 1 FROM confirmed f WHERE f.kind = 'holder' AND f.account_number = c.account_number
                            AND f.holder_name = c.holder_name)) AS is_holder,
           (c.luhn_warning
            AND NOT EXISTS (SELECT 1 FROM confirmed f WHERE f.kind = 'luhn'
                            AND f.account_number = c.account_number)) AS is_luhn
    FROM cand c
    LEFT JOIN rej ON rej.id = c.id
), risky AS (
    SELECT id,
           concat_ws(',', CASE WHEN is_rej THEN 'rejected' END, CASE WHEN is_holder THEN 'holder' END,
                     CASE WHEN is_luhn THEN 'luhn' END) AS kinds,
           left(concat_ws('；',
               CASE WHEN is_rej THEN '该账户曾被银行退回（' || to_char(f_period, 'YYYY-MM') || ' 结算批次 #' || f_run
                                     || ' 第 ' || f_seq || ' 笔：' || COALESCE(NULLIF(fail_reason, ''), '失败')
                                     || '），此后未变更、未成功支付' END,
               CASE WHEN is_holder THEN '户名“' || btrim(holder_name) || '”与姓名“' || btrim(name) || '”不符' END,
               CASE WHEN is_luhn THEN '账号未通过校验（Luhn），登记时已提示' END), 300) AS detail
    FROM flags
    WHERE is_rej OR is_holder OR is_luhn
), gone AS (
    DELETE FROM payroll_linerisk r
    WHERE r.run_id = %(run)s AND r.released_at IS NULL AND r.held_out_at IS NULL
      AND NOT EXISTS (SELECT 1 FROM risky WHERE risky.id = r.line_id)
    RETURNING r.id
)
INSERT INTO payroll_linerisk (line_id, run_id, kinds, detail, release_reason, created_at)
SELECT id, %(run)s, kinds, detail, '', now() FROM risky
ON CONFLICT (line_id) DO UPDATE SET kinds = EXCLUDED.kinds, detail = EXCLUDED.detail
WHERE payroll_linerisk.released_at IS NULL AND payroll_linerisk.held_out_at IS NULL
