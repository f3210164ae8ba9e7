"""A payroll line's sent values are frozen once it leaves 待发 (a trigger).

A bank file line (``bank.BankFileLine``, bank migration 0010) no longer copies the amount, bank, account,
户名, 身份证号 and name it was sent with: they are its payroll line's snapshot. No code changes them once
the line is computed; this makes the database refuse it too, whatever code tries, for a line that is
no longer 待发 (sent, paid, failed, re-issued or written off). ``UPDATE OF`` these columns only: the
mark-sent and return UPDATEs (status, paid amount, reason) never fire it, and the ``WHEN`` condition is
checked without calling the function for a row whose values did not change."""

from django.db import migrations

FREEZE = """
CREATE OR REPLACE FUNCTION payroll_line_sent_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '结算明细 %（批次 % 第 % 笔）已报盘，其实发金额、开户银行、账号、户名、身份证号和姓名不能再修改',
        OLD.id, OLD.run_id, OLD.seq USING ERRCODE = 'check_violation', CONSTRAINT = 'payrollline_sent_frozen';
END $$;
CREATE TRIGGER payrollline_sent_frozen
    BEFORE UPDATE OF net, bank, account_number, holder_name, id_number, name ON payroll_payrollline
    FOR EACH ROW
    WHEN (OLD.status <> 'pending' AND (OLD.net, OLD.bank, OLD.account_number, OLD.holder_name, OLD.id_number, OLD.name)
          IS DISTINCT FROM (NEW.net, NEW.bank, NEW.account_number, NEW.holder_name, NEW.id_number, NEW.name))
    EXECUTE FUNCTION payroll_line_sent_frozen();
"""
THAW = """
DROP TRIGGER IF EXISTS payrollline_sent_frozen ON payroll_payrollline;
DROP FUNCTION IF EXISTS payroll_line_sent_frozen();
"""


class Migration(migrations.Migration):

    dependencies = [
        ("payroll", "0006_risks_partial_returns"),
    ]

    operations = [
        migrations.RunSQL(FREEZE, reverse_sql=THAW),
    ]
