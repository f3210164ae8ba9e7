-- A run's totals from its lines (after compute, recompute, a one-off or a re-issue run).
-- part: totals

UPDATE payroll_payrollrun r
SET line_count = t.n, gross = t.gross, deductions = t.deductions, net = t.net
FROM (SELECT count(*) AS n, COALESCE(sum(gross), 0) AS gross, COALESCE(sum(deductions), 0) AS deductions,
             COALESCE(sum(net), 0) AS net
      FROM payroll_payrollline WHERE run_id = %(run)s) t
WHERE r.id = %(run)s
