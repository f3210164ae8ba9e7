-- The 老农保 legacy import's staging and loading statements (rural_pension.legacy_load, .legacy_checks),
-- read once by ``common.sqlfiles``. Every file is COPY'd into a temporary staging table as it is read
-- (ON COMMIT DROP: a failed import leaves nothing behind), checked there and loaded set-based.
-- Statuses, kinds and messages the models or the checks name are parameters (%(receiving)s, …); ``{table}``
-- (contribution or payout) is filled by the caller.
--
-- Planner notes:
--   * each staging table is ANALYZEd after its COPY: a temp table has no statistics, and the planner would
--     otherwise guess 1,000-odd rows for 4.8 million and choose nested loops over the registry;
--   * the flow checks run with work_mem 256MB (the window that finds duplicates sorts in memory);
--   * ``_rp_chk`` holds each row's parsed values and reason computed ONCE (the OFFSET 0 fences: without
--     them the planner inlines the parsing into every reference — the reason, the sort key, the join — and
--     runs the regular expressions and date parsing several times per row) and is analysed, so the second
--     step is planned on real counts; it carries the content of its rejected rows only, so the window
--     that finds duplicates sorts narrow rows, of the good rows only. At 4.8 M rows the check went from
--     65–108 s (one statement, reasons and content through the sort) to about 25 s.

-- ---------------------------------------------------------------------------------------------- persons
-- part: persons_stage
CREATE TEMP TABLE _rp_person (line_no int, content text, reason text, id_number text,
    id_number_original text, name text, name_initials text, sex text, birth_date date, town_id bigint,
    community_id bigint,
    enrolled_on date, status text, bank_text text, account_no text, bank_code text,
    luhn_warning boolean)
ON COMMIT DROP

-- part: persons_conflicts
-- conflicts with what is stored: another name for the same number; an account with other facts
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
       OR a.legacy_account_number <> s.account_no)))

-- part: persons_counts
-- read, rejected, already stored unchanged, new
SELECT count(*), count(*) FILTER (WHERE s.reason IS NOT NULL),
       count(*) FILTER (WHERE s.reason IS NULL AND a.id IS NOT NULL),
       count(*) FILTER (WHERE s.reason IS NULL AND a.id IS NULL)
FROM _rp_person s
LEFT JOIN registry_person p ON s.reason IS NULL AND p.id_number = s.id_number
LEFT JOIN rural_pension_ruralaccount a ON a.person_id = p.id

-- part: persons_reject
INSERT INTO rural_pension_importrejection (batch_id, file, line_no, content, reason)
SELECT %(batch)s, %(file)s, line_no, left(content, 500), left(reason, 300)
FROM _rp_person WHERE reason IS NOT NULL

-- part: persons_bank
-- the bank account of each person of a new 老农保 account (registry.services opens them from this table)
CREATE TEMP TABLE _rp_bank ON COMMIT DROP AS
SELECT p.id AS person_id, s.bank_code AS bank, s.account_no AS account_number, s.name AS holder_name,
       s.luhn_warning
FROM _rp_person s JOIN registry_person p ON p.id_number = s.id_number
WHERE s.bank_code <> '' AND s.account_no <> ''
  AND NOT EXISTS (SELECT 1 FROM rural_pension_ruralaccount a WHERE a.person_id = p.id)

-- part: accounts_insert
INSERT INTO rural_pension_ruralaccount (person_id, town_id, community_id, enrolled_on, status,
    legacy_bank, legacy_account_number, import_batch_id, person_created_by_import, note,
    created_at, updated_at)
SELECT p.id, s.town_id, s.community_id, s.enrolled_on, s.status, s.bank_text, s.account_no,
       %(batch)s, n.id IS NOT NULL, '', now(), now()
FROM _rp_person s JOIN registry_person p ON p.id_number = s.id_number
LEFT JOIN _rp_new n ON n.id = p.id
WHERE NOT EXISTS (SELECT 1 FROM rural_pension_ruralaccount a WHERE a.person_id = p.id)

-- ------------------------------------------------------------------------------------------------ flows
-- part: flows_stage
CREATE TEMP TABLE _rp_flow (line_no int, bad boolean, nf int, id_raw text, ym text, kind text,
    amount_text text, content text) ON COMMIT DROP

-- part: ids_stage
CREATE TEMP TABLE _rp_ids (raw text PRIMARY KEY, id18 text, err text) ON COMMIT DROP

-- part: flows_check
-- each row's parsed values and reason (NULL when good), computed once (see the planner notes above);
-- the kind is translated by position in the parameter arrays %(kind_labels)s → %(kind_codes)s; a pension
-- month the NB payroll pays (from the linked enrollment's start, payouts only) is not the legacy system's
CREATE TEMP TABLE _rp_chk ON COMMIT DROP AS
SELECT c.line_no, c.account_id, c.month, c.kind_code, c.amount, c.reason,
       CASE WHEN c.reason IS NOT NULL THEN c.content END AS content
FROM (
    SELECT b.line_no, b.account_id, b.month, b.kind_code, b.amount, b.content, CASE
        WHEN b.bad THEN %(bad_encoding)s
        WHEN b.nf <> 4 THEN '列数应为 4，实际 ' || b.nf || ' 列'
        WHEN b.id_err <> '' THEN b.id_err
        WHEN b.month IS NULL THEN '年月“' || b.ym || '”无效（应为 YYYYMM，月份 01–12）'
        WHEN b.kind_code IS NULL THEN '未知类别“' || b.kind || '”（应为 ' || %(kind_list)s || '）'
        WHEN b.amount IS NULL THEN '金额“' || b.amount_text || '”无效（应为最多两位小数的数字）'
        WHEN b.amount <= 0 THEN '金额 ' || b.amount || ' 必须大于 0'
        WHEN b.account_id IS NULL THEN '人员 ' || b.id18 || ' 没有老农保账户（不在 persons.csv 中，也未曾导入）'
        WHEN b.kind_code = %(pension)s AND b.month >= b.nb_start
            THEN '该人员 ' || to_char(b.nb_start, 'YYYY-MM') || ' 起由老农保月度发放（NB）支付，原系统 '
                 || to_char(b.month, 'YYYY-MM') || ' 的养老金不能再导入（同一月份不能发放两次）'
    END AS reason
    FROM (
        SELECT f.line_no, f.bad, f.nf, f.ym, f.kind, f.amount_text, f.content, i.id18, i.err AS id_err,
               CASE WHEN f.ym ~ '^[0-9]{{6}}$' AND substr(f.ym, 5, 2) BETWEEN '01' AND '12'
                         AND substr(f.ym, 1, 4) BETWEEN '1950' AND '2100'
                    THEN make_date(substr(f.ym, 1, 4)::int, substr(f.ym, 5, 2)::int, 1) END AS month,
               (%(kind_codes)s::text[])[array_position(%(kind_labels)s::text[], f.kind)] AS kind_code,
               CASE WHEN f.amount_text ~ %(amount_re)s THEN f.amount_text::numeric(16, 2) END AS amount,
               a.id AS account_id, {nb_start} AS nb_start
        FROM _rp_flow f
        LEFT JOIN _rp_ids i ON i.raw = f.id_raw
        LEFT JOIN registry_person p ON p.id_number = i.id18
        LEFT JOIN rural_pension_ruralaccount a ON a.person_id = p.id
        {nb_join}
        OFFSET 0
    ) b
    OFFSET 0
) c

-- part: flows_dedupe
-- _rp_flow2 (line_no, account_id, month, kind_code, amount, reason, unchanged, content): a duplicate of
-- an earlier line of the file, a conflict with a stored row, or already stored with the same amount; a
-- duplicate or a conflict takes its content from _rp_flow afterwards (flows_reject_dups)
CREATE TEMP TABLE _rp_flow2 ON COMMIT DROP AS
WITH good AS (
    SELECT line_no, account_id, month, kind_code, amount,
           min(line_no) OVER w AS first_line, row_number() OVER w AS rn
    FROM _rp_chk WHERE reason IS NULL
    WINDOW w AS (PARTITION BY account_id, month, kind_code ORDER BY line_no)
)
SELECT g.line_no, g.account_id, g.month, g.kind_code, g.amount,
       CASE WHEN g.rn > 1 THEN '重复行：与第 ' || g.first_line || ' 行是同一人、同一年月、同一类别'
            WHEN e.amount <> g.amount THEN '与已导入的记录不一致（已有金额 ' || e.amount || '）' END AS reason,
       (g.rn = 1 AND COALESCE(e.amount = g.amount, false)) AS unchanged, NULL::text AS content
FROM good g
LEFT JOIN {table} e ON e.account_id = g.account_id AND e.month = g.month AND e.kind = g.kind_code
UNION ALL
SELECT line_no, account_id, month, kind_code, amount, reason, false, content
FROM _rp_chk WHERE reason IS NOT NULL

-- part: contributions_insert
INSERT INTO rural_pension_contribution (account_id, month, kind, amount, import_batch_id)
SELECT account_id, month, kind_code, amount, %(batch)s
FROM _rp_flow2 WHERE reason IS NULL AND NOT unchanged

-- part: payouts_insert
INSERT INTO rural_pension_payout (account_id, month, kind, amount, import_batch_id, document_id, payroll_line_id)
SELECT account_id, month, kind_code, amount, %(batch)s, NULL, NULL
FROM _rp_flow2 WHERE reason IS NULL AND NOT unchanged

-- part: flows_counts
-- read, new, unchanged, rejected (rows and amounts), and the rejected rows whose content is in _rp_flow
SELECT count(*), COALESCE(sum(amount), 0),
       count(*) FILTER (WHERE reason IS NULL AND NOT unchanged),
       COALESCE(sum(amount) FILTER (WHERE reason IS NULL AND NOT unchanged), 0),
       count(*) FILTER (WHERE unchanged), COALESCE(sum(amount) FILTER (WHERE unchanged), 0),
       count(*) FILTER (WHERE reason IS NOT NULL), COALESCE(sum(amount) FILTER (WHERE reason IS NOT NULL), 0),
       count(*) FILTER (WHERE reason IS NOT NULL AND content IS NULL)
FROM _rp_flow2

-- part: flows_reject
INSERT INTO rural_pension_importrejection (batch_id, file, line_no, content, reason)
SELECT %(batch)s, %(file)s, line_no, left(content, 500), left(reason, 300)
FROM _rp_flow2 WHERE reason IS NOT NULL AND content IS NOT NULL

-- part: flows_reject_dups
-- duplicates and conflicts: their lines from the staging table (one scan)
INSERT INTO rural_pension_importrejection (batch_id, file, line_no, content, reason)
SELECT %(batch)s, %(file)s, r.line_no, left(f.content, 500), left(r.reason, 300)
FROM _rp_flow2 r JOIN _rp_flow f ON f.line_no = r.line_no
WHERE r.reason IS NOT NULL AND r.content IS NULL

-- -------------------------------------------------------------------------------------------- receivers
-- part: receivers
-- an imported 领取 account with no benefit yet takes it from its legacy 养老金 payouts: the first month,
-- and the amount of the last one (any batch's account: payouts may come in a later file than the person)
UPDATE rural_pension_ruralaccount a
SET benefit_start_month = p.first_month, monthly_benefit = p.last_amount
FROM (SELECT account_id, min(month) AS first_month,
             (array_agg(amount ORDER BY month DESC))[1] AS last_amount
      FROM rural_pension_payout WHERE kind = %(pension)s GROUP BY account_id) p
WHERE a.id = p.account_id AND a.status = %(receiving)s AND a.benefit_start_month IS NULL
  AND a.enrollment_id IS NULL AND a.import_batch_id IS NOT NULL
