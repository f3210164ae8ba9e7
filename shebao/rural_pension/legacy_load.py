"""Staging and committing the legacy 老农保 rows (the steps of ``legacy_import``'s run).

Every file is COPY'd into a temporary staging table as it is read (a generator: never held whole),
checked there (``legacy_checks``) and loaded set-based with INSERT … SELECT. The persons and their bank
accounts belong to the registry: they are written by its services (``persons_bulk_insert_from``,
``bank_accounts_bulk_open_from``, each from a staging table, each one summary audit event); this module
writes only the 老农保 tables (accounts, contributions, payouts, rejections)."""

from __future__ import annotations

from django.db import connection

from shebao.common.money import normalize_digits
from shebao.registry.models import Region
from shebao.registry.selectors import bank_labels, bank_rules
from shebao.registry.services import bank_accounts_bulk_open_from, persons_bulk_insert_from
from shebao.rural_pension.legacy_checks import AMOUNT_RE, Recon, flow_check_sql


def _copy(table: str, columns: list[str], rows) -> None:
    """COPY an iterable of rows into ``table``: psycopg sends them in buffered chunks as they come, so
    a generator is staged without ever being held whole."""
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)



class Staging:
    """The staging and loading steps, mixed into the importer (``legacy_import``), which holds the
    batch, the user, the progress, ``recon``, ``created``, ``ids`` and the row checks (``RowChecks``)."""

    def persons(self, name: str, rows) -> None:
        rec = self.recon[name] = Recon(name)
        towns = {r.name: r.pk for r in Region.objects.filter(level=Region.Level.TOWN)}
        communities = {(r.parent_id, r.name): r.pk for r in Region.objects.filter(level=Region.Level.COMMUNITY)}
        self.bank_codes = frozenset(bank_labels())  # read now: the rows are made inside the COPY
        self.bank_rules = bank_rules()  # code → (min length, max length, name, active), read now too
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS _rp_person")
            cursor.execute("""
                CREATE TEMP TABLE _rp_person (line_no int, content text, reason text, id_number text,
                    id_number_original text, name text, name_initials text, sex text, birth_date date, town_id bigint,
                    community_id bigint,
                    enrolled_on date, status text, bank_text text, account_no text, bank_code text,
                    luhn_warning boolean)
                ON COMMIT DROP""")
        _copy("_rp_person", ["line_no", "content", "reason", "id_number", "id_number_original", "name",
                             "name_initials", "sex", "birth_date", "town_id", "community_id", "enrolled_on", "status", "bank_text", "account_no",
                             "bank_code", "luhn_warning"], self._person_rows(name, rows, towns, communities))
        self.parsed.clear()  # only persons.csv needs the parsed numbers
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE _rp_person")
            # conflicts with what is stored: another name for the same number; an account with other facts
            cursor.execute("""
                UPDATE _rp_person s SET reason =
                       CASE WHEN p.name <> s.name THEN '姓名与已登记人员“' || p.name || '”不一致'
                            ELSE '老农保账户已存在且信息不同（' || concat_ws('、',
                                 CASE WHEN a.town_id <> s.town_id THEN '镇街道' END,
                                 CASE WHEN a.community_id IS DISTINCT FROM s.community_id THEN '村' END,
                                 CASE WHEN a.enrolled_on <> s.enrolled_on THEN '参保日期' END,
                                 CASE WHEN a.status <> s.status THEN '状态' END,
                                 CASE WHEN a.legacy_bank <> s.bank_text THEN '开户银行' END,
                                 CASE WHEN a.legacy_account_number <> s.account_no THEN '银行账号' END)
                                 || '），请通过信息修改处理' END
                FROM registry_person p
                LEFT JOIN rural_pension_ruralaccount a ON a.person_id = p.id
                WHERE s.reason IS NULL AND p.id_number = s.id_number
                  AND (p.name <> s.name
                   OR (a.id IS NOT NULL AND (a.town_id <> s.town_id OR a.community_id IS DISTINCT FROM s.community_id
                       OR a.enrolled_on <> s.enrolled_on OR a.status <> s.status OR a.legacy_bank <> s.bank_text
                       OR a.legacy_account_number <> s.account_no)))""")
            cursor.execute("""
                SELECT count(*), count(*) FILTER (WHERE s.reason IS NOT NULL),
                       count(*) FILTER (WHERE s.reason IS NULL AND a.id IS NOT NULL),
                       count(*) FILTER (WHERE s.reason IS NULL AND a.id IS NULL)
                FROM _rp_person s
                LEFT JOIN registry_person p ON s.reason IS NULL AND p.id_number = s.id_number
                LEFT JOIN rural_pension_ruralaccount a ON a.person_id = p.id""")
            rec.rows_read, rec.rows_rejected, rec.rows_unchanged, rec.rows_new = cursor.fetchone()
            cursor.execute("""
                INSERT INTO rural_pension_importrejection (batch_id, file, line_no, content, reason)
                SELECT %(batch)s, %(file)s, line_no, left(content, 500), left(reason, 300)
                FROM _rp_person WHERE reason IS NOT NULL""", {"batch": self.batch.pk, "file": name})
            cursor.execute("DELETE FROM _rp_person WHERE reason IS NOT NULL")
            # the registry's writes, by its services (set-based, from the staging table): the persons not
            # registered yet (their ids kept in _rp_new for the accounts' person_created_by_import) …
            why = f"老农保导入批次 {self.batch.pk}"
            registered = persons_bulk_insert_from(table="_rp_person", user=self.user, reason=why,
                                                  new_ids_table="_rp_new")
            self.created["persons"] = registered.count
            self.person_ids = (registered.first_id, registered.last_id) if registered.count else None
            # … and the bank account of each person of a new 老农保 account who has no current one
            cursor.execute("DROP TABLE IF EXISTS _rp_bank")
            cursor.execute("""
                CREATE TEMP TABLE _rp_bank ON COMMIT DROP AS
                SELECT p.id AS person_id, s.bank_code AS bank, s.account_no AS account_number, s.name AS holder_name,
                       s.luhn_warning
                FROM _rp_person s JOIN registry_person p ON p.id_number = s.id_number
                WHERE s.bank_code <> '' AND s.account_no <> ''
                  AND NOT EXISTS (SELECT 1 FROM rural_pension_ruralaccount a WHERE a.person_id = p.id)""")
            self.created["bank_accounts"] = bank_accounts_bulk_open_from(table="_rp_bank", user=self.user,
                                                                         reason=why)
            cursor.execute("DROP TABLE _rp_bank")
            cursor.execute("""
                INSERT INTO rural_pension_ruralaccount (person_id, town_id, community_id, enrolled_on, status,
                    legacy_bank, legacy_account_number, import_batch_id, person_created_by_import, note,
                    created_at, updated_at)
                SELECT p.id, s.town_id, s.community_id, s.enrolled_on, s.status, s.bank_text, s.account_no,
                       %(batch)s, n.id IS NOT NULL, '', now(), now()
                FROM _rp_person s JOIN registry_person p ON p.id_number = s.id_number
                LEFT JOIN _rp_new n ON n.id = p.id
                WHERE NOT EXISTS (SELECT 1 FROM rural_pension_ruralaccount a WHERE a.person_id = p.id)""",
                           {"batch": self.batch.pk})
            self.created["accounts"] = cursor.rowcount
            cursor.execute("DROP TABLE _rp_new")

    # flows --------------------------------------------------------------------------------------
    def flows(self, name: str, rows) -> None:
        table = "rural_pension_contribution" if name == "contributions.csv" else "rural_pension_payout"
        payouts = table == "rural_pension_payout"
        self.recon[name] = Recon(name)
        ids_seen = self.ids

        def staged():
            count = 0
            for n, fields, content in rows:
                count += 1
                if count % 200_000 == 0:
                    self.progress.note(f"{name}：已读 {count:,} 行")
                if fields is None:
                    yield (n, True, 0, "", "", "", "", content)
                    continue
                raw_id = fields[0] if fields else ""
                if raw_id not in ids_seen:
                    self._id(raw_id)
                padded = (fields + ["", "", "", ""])[:4]
                # the amount's syntax is checked in SQL (``AMOUNT_RE``, the syntax of money.to_decimal
                # with at most 2 decimals); full-width digits are read as ASCII here, as everywhere
                yield (n, False, len(fields), raw_id, padded[1], padded[2], normalize_digits(padded[3]), content)

        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS _rp_flow")
            cursor.execute("""
                CREATE TEMP TABLE _rp_flow (line_no int, bad boolean, nf int, id_raw text, ym text, kind text,
                    amount_text text, content text) ON COMMIT DROP""")
        _copy("_rp_flow", ["line_no", "bad", "nf", "id_raw", "ym", "kind", "amount_text", "content"], staged())
        self._ids_table()
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL work_mem = '256MB'")
            cursor.execute("ANALYZE _rp_flow")
            cursor.execute("DROP TABLE IF EXISTS _rp_flow2")
            cursor.execute("DROP TABLE IF EXISTS _rp_chk")
            for sql in flow_check_sql(name):
                cursor.execute(sql, {"amount_re": AMOUNT_RE} if "%(amount_re)s" in sql else None)
            cursor.execute(f"""
                INSERT INTO {table} (account_id, month, kind, amount, import_batch_id{', document_id, payroll_line_id' if payouts else ''})
                SELECT account_id, month, kind_code, amount, %(batch)s{', NULL, NULL' if payouts else ''}
                FROM _rp_flow2 WHERE reason IS NULL AND NOT unchanged""", {"batch": self.batch.pk})
            self.created[table.removeprefix("rural_pension_") + "s"] = cursor.rowcount
            cursor.execute("""
                SELECT count(*), COALESCE(sum(amount), 0),
                       count(*) FILTER (WHERE reason IS NULL AND NOT unchanged),
                       COALESCE(sum(amount) FILTER (WHERE reason IS NULL AND NOT unchanged), 0),
                       count(*) FILTER (WHERE unchanged), COALESCE(sum(amount) FILTER (WHERE unchanged), 0),
                       count(*) FILTER (WHERE reason IS NOT NULL), COALESCE(sum(amount) FILTER (WHERE reason IS NOT NULL), 0),
                       count(*) FILTER (WHERE reason IS NOT NULL AND content IS NULL)
                FROM _rp_flow2""")
            rec = self.recon[name]
            (rec.rows_read, rec.amount_read, rec.rows_new, rec.amount_new, rec.rows_unchanged, rec.amount_unchanged,
             rec.rows_rejected, rec.amount_rejected, without_content) = cursor.fetchone()
            params = {"batch": self.batch.pk, "file": name}
            cursor.execute("""
                INSERT INTO rural_pension_importrejection (batch_id, file, line_no, content, reason)
                SELECT %(batch)s, %(file)s, line_no, left(content, 500), left(reason, 300)
                FROM _rp_flow2 WHERE reason IS NOT NULL AND content IS NOT NULL""", params)
            if without_content:  # duplicates and conflicts: their lines from the staging table (one scan)
                cursor.execute("""
                    INSERT INTO rural_pension_importrejection (batch_id, file, line_no, content, reason)
                    SELECT %(batch)s, %(file)s, r.line_no, left(f.content, 500), left(r.reason, 300)
                    FROM _rp_flow2 r JOIN _rp_flow f ON f.line_no = r.line_no
                    WHERE r.reason IS NOT NULL AND r.content IS NULL""", params)
            cursor.execute("DROP TABLE _rp_flow2")
            cursor.execute("DROP TABLE _rp_flow")

    def _ids_table(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS _rp_ids")
            cursor.execute("CREATE TEMP TABLE _rp_ids (raw text PRIMARY KEY, id18 text, err text) ON COMMIT DROP")
        _copy("_rp_ids", ["raw", "id18", "err"], ((raw, v[0], v[2]) for raw, v in self.ids.items()))

    # receivers: the benefit facts the legacy payouts imply -----------------------------------------
    def receivers(self) -> None:
        """An imported 领取 account with no benefit yet takes it from its legacy 养老金 payouts: the
        first month, and the amount of the last one (any batch's account: payouts may come in a later
        file than the person)."""
        with connection.cursor() as cursor:
            cursor.execute("""
                UPDATE rural_pension_ruralaccount a
                SET benefit_start_month = p.first_month, monthly_benefit = p.last_amount
                FROM (SELECT account_id, min(month) AS first_month,
                             (array_agg(amount ORDER BY month DESC))[1] AS last_amount
                      FROM rural_pension_payout WHERE kind = 'pension' GROUP BY account_id) p
                WHERE a.id = p.account_id AND a.status = 'receiving' AND a.benefit_start_month IS NULL
                  AND a.enrollment_id IS NULL AND a.import_batch_id IS NOT NULL""")

