-- The risky lines of one run (models.LineRisk), found set-based and written in one statement.
-- Only lines still 待发 with net > 0 are looked at (what a bank file would take). Read top down:
--   l          the run's lines to send (its (run, seq) index);
--   rej        per line, the latest earlier line to the same account number that the bank rejected
--              (failed, re-issued or written off — a line the export held out is no bank rejection),
--              unless a later run paid that account to the same person or payee (looked up per rejected
--              line through the lines' (run, person) and (run, payee) keys). The lookup reads the
--              partial index payrollline_rejected_account (rejected lines only: a few hundred rows);
--   luhn       accounts registered with a check warning (registry_bankaccount/registry_payee.luhn_warning)
--              at a bank whose rule asks for Luhn (registry_bank.luhn_check);
--   confirmed  account numbers (and 户名) a reviewer already released for a holder or Luhn risk in an
--              earlier run: not asked again every month;
--   risky      the kinds and the Chinese explanation per line;
--   gone       the run's unreleased, not held-out rows whose line is no longer risky: removed;
-- then insert the new rows and refresh the kinds of the unreleased ones.
-- part: refresh
WITH l AS MATERIALIZED (
    SELECT id, person_id, payee_id, name, holder_name, account_number, bank_account_id
    FROM payroll_payrollline
    WHERE run_id = %(run)s AND status = %(pending)s AND net > 0
), rej AS (
    SELECT DISTINCT ON (l.id) l.id, f.run_id AS f_run, f.seq AS f_seq, f.fail_reason, fr.period AS f_period
    FROM l
    JOIN payroll_payrollline f ON f.account_number = l.account_number
         AND f.status IN (%(failed)s, %(reissued)s, %(written_off)s) AND f.run_id <> %(run)s
    JOIN payroll_payrollrun fr ON fr.id = f.run_id
    WHERE l.account_number <> ''
      AND NOT EXISTS (SELECT 1 FROM payroll_linerisk h WHERE h.line_id = f.id AND h.held_out_at IS NOT NULL)
      AND NOT EXISTS (SELECT 1 FROM payroll_payrollrun pr JOIN payroll_payrollline p ON p.run_id = pr.id
                      WHERE pr.id > f.run_id AND p.person_id = f.person_id AND p.status = %(paid)s
                        AND p.account_number = f.account_number)
      AND NOT EXISTS (SELECT 1 FROM payroll_payrollrun pr JOIN payroll_payrollline p ON p.run_id = pr.id
                      WHERE pr.id > f.run_id AND p.payee_id = f.payee_id AND p.status = %(paid)s
                        AND p.account_number = f.account_number)
    ORDER BY l.id, f.id DESC
), luhn AS (
    SELECT l.id FROM l JOIN registry_bankaccount b ON b.id = l.bank_account_id AND b.luhn_warning
                       JOIN registry_bank k ON k.code = b.bank AND k.luhn_check
    UNION
    SELECT l.id FROM l JOIN registry_payee py ON py.id = l.payee_id AND py.luhn_warning
                       JOIN registry_bank k ON k.code = py.bank AND k.luhn_check
), confirmed AS (
    SELECT DISTINCT k.kind, pl.account_number, pl.holder_name
    FROM payroll_linerisk r
    JOIN payroll_payrollline pl ON pl.id = r.line_id
    CROSS JOIN LATERAL unnest(string_to_array(r.kinds, ',')) AS k(kind)
    WHERE r.released_at IS NOT NULL AND r.run_id <> %(run)s AND k.kind IN ('holder', 'luhn')
), flags AS (
    SELECT l.id, l.name, l.holder_name, rej.id IS NOT NULL AS is_rej, rej.f_run, rej.f_seq, rej.fail_reason,
           rej.f_period,
           (l.person_id IS NOT NULL AND btrim(l.holder_name) <> '' AND btrim(l.holder_name) <> btrim(l.name)
            AND NOT EXISTS (SELECT 1 FROM confirmed c WHERE c.kind = 'holder' AND c.account_number = l.account_number
                            AND c.holder_name = l.holder_name)) AS is_holder,
           (luhn.id IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM confirmed c WHERE c.kind = 'luhn'
                            AND c.account_number = l.account_number)) AS is_luhn
    FROM l
    LEFT JOIN rej ON rej.id = l.id
    LEFT JOIN luhn ON luhn.id = l.id
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
