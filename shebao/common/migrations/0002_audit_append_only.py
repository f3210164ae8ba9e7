from django.db import migrations

# The audit trail is append-only: the database itself refuses UPDATE and DELETE, and TRUNCATE unless
# the session is in explicit maintenance mode (set only by the test harness to reset test databases).
SQL = """
CREATE OR REPLACE FUNCTION shebao_audit_refuse_change() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' AND current_setting('shebao.maintenance', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION '审计记录只能追加，不能修改或删除（%）', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_no_update BEFORE UPDATE OR DELETE ON common_auditevent
    FOR EACH ROW EXECUTE FUNCTION shebao_audit_refuse_change();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON common_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION shebao_audit_refuse_change();
"""

REVERSE = """
DROP TRIGGER IF EXISTS audit_no_update ON common_auditevent;
DROP TRIGGER IF EXISTS audit_no_truncate ON common_auditevent;
DROP FUNCTION IF EXISTS shebao_audit_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [("common", "0001_initial")]
    operations = [migrations.RunSQL(SQL, REVERSE)]
