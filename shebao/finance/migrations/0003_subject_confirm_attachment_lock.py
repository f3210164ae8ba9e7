"""A reviewed record's attachments are locked like the record (a trigger), and a business type's
accounting subject is 待财务确认 until finance confirms it: the subject code's form is checked by the
database, and a change of the subject code or name drops an earlier confirmation (a trigger), whatever
code makes it. The seeded types stay unconfirmed (their codes are placeholders: see README section 6)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


ATTACHMENT_LOCK = """
CREATE OR REPLACE FUNCTION finance_attachment_locked() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ids bigint[];
    locked text;
BEGIN
    IF TG_OP = 'INSERT' THEN
        ids := ARRAY[NEW.entry_id];
    ELSIF TG_OP = 'DELETE' THEN
        ids := ARRAY[OLD.entry_id];
    ELSE
        ids := ARRAY[OLD.entry_id, NEW.entry_id];
    END IF;
    -- FOR SHARE: waits for a 复核 in flight on the record and reads its state as committed
    SELECT e.number INTO locked FROM finance_entry e
    WHERE e.id = ANY(ids) AND e.state = 'reviewed' ORDER BY e.id LIMIT 1 FOR SHARE;
    IF FOUND THEN
        RAISE EXCEPTION '收支记录 % 已复核，附件不能添加、修改或删除', locked
            USING ERRCODE = 'check_violation', CONSTRAINT = 'finance_attachment_locked';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER finance_attachment_locked BEFORE INSERT OR UPDATE OR DELETE ON finance_attachment
    FOR EACH ROW EXECUTE FUNCTION finance_attachment_locked();

CREATE OR REPLACE FUNCTION finance_type_subject_unconfirm() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.subject_code, NEW.subject_name) IS DISTINCT FROM (OLD.subject_code, OLD.subject_name)
       AND NEW.subject_confirmed_at IS NOT DISTINCT FROM OLD.subject_confirmed_at THEN
        NEW.subject_confirmed_by_id := NULL;
        NEW.subject_confirmed_at := NULL;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER finance_type_subject_unconfirm BEFORE UPDATE ON finance_businesstype
    FOR EACH ROW EXECUTE FUNCTION finance_type_subject_unconfirm();
"""
ATTACHMENT_UNLOCK = """
DROP TRIGGER IF EXISTS finance_attachment_locked ON finance_attachment;
DROP FUNCTION IF EXISTS finance_attachment_locked();
DROP TRIGGER IF EXISTS finance_type_subject_unconfirm ON finance_businesstype;
DROP FUNCTION IF EXISTS finance_type_subject_unconfirm();
"""


class Migration(migrations.Migration):

    dependencies = [
        ('benefits', '0003_seed_exit_other'),
        ('finance', '0002_lock_seed_links'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='businesstype',
            name='subject_confirmed_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='会计科目确认时间'),
        ),
        migrations.AddField(
            model_name='businesstype',
            name='subject_confirmed_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='会计科目确认人'),
        ),
        migrations.AddConstraint(
            model_name='businesstype',
            constraint=models.CheckConstraint(condition=models.Q(('subject_code__regex', '^[0-9]{4}([0-9]{2}){0,4}$')), name='finance_type_subject_code_form'),
        ),
        migrations.AddConstraint(
            model_name='businesstype',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('subject_confirmed_at__isnull', True), ('subject_confirmed_by__isnull', True)), models.Q(('subject_confirmed_at__isnull', False), ('subject_confirmed_by__isnull', False)), _connector='OR'), name='finance_type_subject_confirmed_both'),
        ),
        migrations.RunSQL(ATTACHMENT_LOCK, ATTACHMENT_UNLOCK),
    ]
