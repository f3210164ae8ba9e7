"""The lock of a reviewed record (a trigger), the seeded business types, and the ledger records of the
自管人员 income and 灵活支付 that exist already (the scheme keeps its own record — ``self_managed.Income``
reduces the person's open 扣减 —, the ledger links to it by its unique source reference)."""

from django.db import migrations

LOCK = """
CREATE OR REPLACE FUNCTION finance_entry_locked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.state = 'reviewed' THEN
        IF TG_OP = 'DELETE' THEN
            RAISE EXCEPTION '收支记录 % 已复核，不能删除（如需更正请做红冲）', OLD.number
                USING ERRCODE = 'check_violation', CONSTRAINT = 'finance_entry_locked';
        END IF;
        IF (to_jsonb(NEW) - 'pay_status' - 'updated_at') IS DISTINCT FROM
           (to_jsonb(OLD) - 'pay_status' - 'updated_at') THEN
            RAISE EXCEPTION '收支记录 % 已复核，不能修改（如需更正请做红冲）', OLD.number
                USING ERRCODE = 'check_violation', CONSTRAINT = 'finance_entry_locked';
        END IF;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER finance_entry_locked BEFORE UPDATE OR DELETE ON finance_entry
    FOR EACH ROW EXECUTE FUNCTION finance_entry_locked();
"""
UNLOCK = """
DROP TRIGGER IF EXISTS finance_entry_locked ON finance_entry;
DROP FUNCTION IF EXISTS finance_entry_locked();
"""

# code, name, direction, subject code, subject name, scheme paying it by bank, sort, note
TYPES = [
    ("TB_TO_SI_SUBSIDY", "土保转社保政府补助支出", "expenditure", "5401", "转移支出—土保转社保政府补助", "TB", 10,
     "土地保障人员转入社会保险的政府补助资金划转"),
    ("EXTRA_FUND_RECOVERY", "统筹外经费收回", "income", "4401", "其他收入—统筹外经费收回", None, 20,
     "统筹外项目经费的收回"),
    ("TB_BENEFIT_RETURN", "土保待遇退回", "income", "4402", "其他收入—土保待遇退回", None, 30,
     "土保补贴待遇的退回"),
    ("RURAL_BENEFIT_RETURN", "城乡居保待遇退回", "income", "4403", "其他收入—城乡居保待遇退回", None, 40,
     "城乡居民养老保险待遇的退回"),
    ("OVERPAY_RECOVERY", "追回多发待遇", "income", "4404", "其他收入—追回多发待遇", None, 50,
     "死亡、停发后多发待遇的追回（自管人员收入、认证与死亡结算）"),
    ("BANK_RETURN", "银行退回", "income", "4405", "其他收入—银行退回", None, 60, "发放成功后银行退回的款项"),
    ("OTHER_INCOME", "其他收入", "income", "4409", "其他收入—其他", None, 70, ""),
    ("FLEX_PAYMENT", "灵活支付", "expenditure", "5409", "其他支出—灵活支付", "ZG", 80, "自管人员零星一次性支付"),
]


def seed(apps, schema_editor):
    BusinessType = apps.get_model("finance", "BusinessType")
    Scheme = apps.get_model("benefits", "Scheme")
    for code, name, direction, sc, sn, scheme, sort, note in TYPES:
        BusinessType.objects.get_or_create(code=code, defaults={
            "name": name, "direction": direction, "subject_code": sc, "subject_name": sn, "sort": sort, "note": note,
            "scheme": Scheme.objects.filter(code=scheme).first() if scheme else None})


def link_existing(apps, schema_editor):
    """One ledger record per existing 自管人员 income and 灵活支付 (待到账确认, entered by its maker);
    set-based, skipping a source already linked (safe to run again; the test suite re-runs the seeds
    without a schema editor)."""
    from django.db import connection as default_connection

    connection = schema_editor.connection if schema_editor is not None else default_connection
    with connection.cursor() as cursor:
        cursor.execute("""
            INSERT INTO finance_entry (number, direction, type_id, payee_id, person_id, amount, occurred_on, voucher_no,
                note, state, source, run_id, pay_status, created_by_id, created_at, updated_at)
            SELECT '', 'income', t.id, NULL, i.person_id, i.amount, i.received_on, '',
                   left('自管人员' || CASE i.kind WHEN 'overpayment' THEN '追回多发' WHEN 'bank_return' THEN '银行退回'
                        ELSE '其他收入' END || '：' || i.source, 300),
                   'entered', 'self_managed.income:' || i.id, NULL, 'none', i.created_by_id, now(), now()
            FROM self_managed_income i
            JOIN finance_businesstype t ON t.code = CASE i.kind WHEN 'overpayment' THEN 'OVERPAY_RECOVERY'
                 WHEN 'bank_return' THEN 'BANK_RETURN' ELSE 'OTHER_INCOME' END
            WHERE NOT EXISTS (SELECT 1 FROM finance_entry e WHERE e.source = 'self_managed.income:' || i.id)
            ORDER BY i.id""")
        cursor.execute("""
            INSERT INTO finance_entry (number, direction, type_id, payee_id, person_id, amount, occurred_on, voucher_no,
                note, state, source, run_id, pay_status, created_by_id, created_at, updated_at)
            SELECT '', 'expenditure', t.id, NULL, f.person_id, f.amount, f.created_at::date, '',
                   left('灵活支付：' || f.reason, 300), 'entered', 'self_managed.flex:' || f.id, f.run_id,
                   CASE WHEN l.status = 'paid' THEN 'paid' WHEN l.status = 'failed' THEN 'failed' ELSE 'pending' END,
                   f.created_by_id, now(), now()
            FROM self_managed_flexpayment f
            JOIN finance_businesstype t ON t.code = 'FLEX_PAYMENT'
            LEFT JOIN payroll_payrollline l ON l.run_id = f.run_id AND l.person_id = f.person_id
            WHERE NOT EXISTS (SELECT 1 FROM finance_entry e WHERE e.source = 'self_managed.flex:' || f.id)
            ORDER BY f.id""")
        cursor.execute("""
            UPDATE finance_entry SET number = CASE direction WHEN 'expenditure' THEN 'ZC' ELSE 'SR' END
                                              || lpad(id::text, 8, '0')
            WHERE number = ''""")


class Migration(migrations.Migration):
    dependencies = [
        ("finance", "0001_initial"),
        ("self_managed", "0002_roster_import_preview"),
    ]

    operations = [
        migrations.RunSQL(LOCK, UNLOCK),
        migrations.RunPython(seed, migrations.RunPython.noop),
        migrations.RunPython(link_existing, migrations.RunPython.noop),
    ]
