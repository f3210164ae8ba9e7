"""Staging and committing the legacy 老农保 rows (the steps of ``legacy_import``'s run).

Every file is COPY'd into a temporary staging table as it is read (a generator: never held whole),
checked there (``legacy_checks``) and loaded set-based with INSERT … SELECT. The persons and their bank
accounts belong to the registry: they are written by its services (``persons_bulk_insert_from``,
``bank_accounts_bulk_open_from``, each from a staging table, each one summary audit event); this module
writes only the 老农保 tables (accounts, contributions, payouts, rejections)."""

from __future__ import annotations

from django.db import connection

from shebao.common.money import normalize_digits
from shebao.common.pgcopy import copy_rows
from shebao.registry.models import Region
from shebao.registry.selectors import bank_labels, bank_rules
from shebao.registry.services import bank_accounts_bulk_open_from, persons_bulk_insert_from
from shebao.rural_pension.legacy_checks import LEGACY_SQL as SQL
from shebao.rural_pension.legacy_checks import Recon, flow_check_sql
from shebao.rural_pension.models import AccountStatus, PayoutKind


def _copy(table: str, columns: list[str], rows) -> None:
    """COPY an iterable of rows into ``table`` (``common.pgcopy``: a generator is staged without ever
    being held whole)."""
    with connection.cursor() as cursor:
        copy_rows(cursor, table, columns, rows)



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
            cursor.execute(SQL["persons_stage"])
        _copy("_rp_person", ["line_no", "content", "reason", "id_number", "id_number_original", "name",
                             "name_initials", "sex", "birth_date", "town_id", "community_id", "enrolled_on", "status", "bank_text", "account_no",
                             "bank_code", "luhn_warning"], self._person_rows(name, rows, towns, communities))
        self.parsed.clear()  # only persons.csv needs the parsed numbers
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE _rp_person")
            cursor.execute(SQL["persons_conflicts"])  # another name for the same number, other facts
            cursor.execute(SQL["persons_counts"])
            rec.rows_read, rec.rows_rejected, rec.rows_unchanged, rec.rows_new = cursor.fetchone()
            cursor.execute(SQL["persons_reject"], {"batch": self.batch.pk, "file": name})
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
            cursor.execute(SQL["persons_bank"])
            self.created["bank_accounts"] = bank_accounts_bulk_open_from(table="_rp_bank", user=self.user,
                                                                         reason=why)
            cursor.execute("DROP TABLE _rp_bank")
            cursor.execute(SQL["accounts_insert"], {"batch": self.batch.pk})
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
            cursor.execute(SQL["flows_stage"])
        _copy("_rp_flow", ["line_no", "bad", "nf", "id_raw", "ym", "kind", "amount_text", "content"], staged())
        self._ids_table()
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL work_mem = '256MB'")
            cursor.execute("ANALYZE _rp_flow")
            cursor.execute("DROP TABLE IF EXISTS _rp_flow2")
            cursor.execute("DROP TABLE IF EXISTS _rp_chk")
            for sql, params in flow_check_sql(name):
                cursor.execute(sql, params)
            cursor.execute(SQL["payouts_insert" if payouts else "contributions_insert"], {"batch": self.batch.pk})
            self.created[table.removeprefix("rural_pension_") + "s"] = cursor.rowcount
            cursor.execute(SQL["flows_counts"])
            rec = self.recon[name]
            (rec.rows_read, rec.amount_read, rec.rows_new, rec.amount_new, rec.rows_unchanged, rec.amount_unchanged,
             rec.rows_rejected, rec.amount_rejected, without_content) = cursor.fetchone()
            params = {"batch": self.batch.pk, "file": name}
            cursor.execute(SQL["flows_reject"], params)
            if without_content:  # duplicates and conflicts: their lines from the staging table (one scan)
                cursor.execute(SQL["flows_reject_dups"], params)
            cursor.execute("DROP TABLE _rp_flow2")
            cursor.execute("DROP TABLE _rp_flow")

    def _ids_table(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS _rp_ids")
            cursor.execute(SQL["ids_stage"])
        _copy("_rp_ids", ["raw", "id18", "err"], ((raw, v[0], v[2]) for raw, v in self.ids.items()))

    # receivers: the benefit facts the legacy payouts imply -----------------------------------------
    def receivers(self) -> None:
        """An imported 领取 account with no benefit yet takes it from its legacy 养老金 payouts: the
        first month, and the amount of the last one (any batch's account: payouts may come in a later
        file than the person)."""
        with connection.cursor() as cursor:
            cursor.execute(SQL["receivers"], {"pension": PayoutKind.PENSION.value,
                                              "receiving": AccountStatus.RECEIVING.value})

