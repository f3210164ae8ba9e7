-- The 老农保 yearly account tables (AccountYearFlow, AccountYear), set-based: rural_pension.services
-- (rural_years_refresh, rural_years_rerate, _walk, _walk_all) reads this file once (common.sqlfiles).
-- ``{where}``, ``{seed}`` and ``{sums}`` are filled by the caller from fixed fragments; account ids and
-- years are parameters, and so are the contribution kinds (``ContributionKind``: %(personal)s, …).
--
-- The yearly tables, set-based, by the rule of ``interest`` (the same formula: interest = round(r × (12 ×
-- opening + Σ flow × (13 − m)) / 12, 2); numeric round is half away from zero, as ROUND_HALF_UP).
--
-- 1. The flows are summed per account and year into ``AccountYearFlow`` (credits by kind, payouts, and the
--    month-products ``weighted`` = Σ credit × (13 − m) − Σ payout × (13 − m)): one aggregate over the flows,
--    in integer cents (a numeric sum per row costs twice as much at 3.6 million flows).
-- 2. The years are walked over these sums with ONE recursive statement for all accounts: a seed row per
--    account (the year before its first year with a flow, closing 0 — or, from a year Y on, the stored
--    closing of Y − 1), then year + 1 as long as that year has a rate (a year without one ends the
--    account's rows: the same rule as ``interest.yearly_table``, which raises there). The sums are hashed
--    once and probed by the ~75,000 accounts of each step; its rows go straight into ``AccountYear``.
-- A rate change (``rural_years_rerate``) only does step 2; a writer of flows (``rural_years_refresh``)
-- does both for its accounts.
-- Planner: a walk over many accounts runs with nested loops and merge joins off and work_mem 256MB
-- (``_BULK``): the sums are hashed once and probed by each step's ~75,000 accounts; left to itself, seeing
-- a small recursive work table, the planner probes the sums' index 2.3 million times instead. No
-- parallel workers on a 2-core server. A walk of a few accounts (a refund, a settlement) keeps the
-- default plan (index probes) with work_mem 64MB.

-- part: sums
-- the per-year sums of the accounts {where} selects, in integer cents, from both flow tables
INSERT INTO rural_pension_accountyearflow (account_id, year, personal, collective, other, payouts, weighted)
SELECT account_id, y,
       COALESCE(sum(c) FILTER (WHERE kind = %(personal)s), 0) * 0.01,
       COALESCE(sum(c) FILTER (WHERE kind = %(collective)s), 0) * 0.01,
       COALESCE(sum(c) FILTER (WHERE kind = %(other)s), 0) * 0.01,
       COALESCE(sum(c) FILTER (WHERE paid_out), 0) * 0.01,
       sum(CASE WHEN paid_out THEN -c ELSE c END * (13 - m)) * 0.01
FROM (
    SELECT account_id, date_part('year', month)::int AS y, date_part('month', month)::int AS m, kind,
           false AS paid_out, (amount * 100)::bigint AS c
    FROM rural_pension_contribution WHERE {where}
    UNION ALL
    SELECT account_id, date_part('year', month)::int, date_part('month', month)::int, NULL, true, (amount * 100)::bigint
    FROM rural_pension_payout WHERE {where}
) f
GROUP BY account_id, y

-- part: walk
-- the recursive walk from each seed row (account, year before the first, closing) while a rate exists
WITH RECURSIVE w (account_id, year, opening, personal, collective, other, payouts, rate, interest, closing, seed) AS (
    SELECT account_id, year::int, 0::numeric, 0::numeric, 0::numeric, 0::numeric, 0::numeric, 0::numeric, 0::numeric,
           closing::numeric, true
    FROM ({seed}) s0 (account_id, year, closing)
  UNION ALL
    SELECT w.account_id, w.year + 1, w.closing, COALESCE(s.personal, 0)::numeric, COALESCE(s.collective, 0)::numeric,
           COALESCE(s.other, 0)::numeric, COALESCE(s.payouts, 0)::numeric, r.rate::numeric, t.interest,
           w.closing + COALESCE(s.personal + s.collective + s.other - s.payouts, 0) + t.interest, false
    FROM w
    JOIN rural_pension_creditedrate r ON r.year = w.year + 1
    LEFT JOIN {sums} s ON s.account_id = w.account_id AND s.year = w.year + 1
    CROSS JOIN LATERAL (SELECT round(r.rate * (12 * w.closing + COALESCE(s.weighted, 0)) / 12, 2) AS interest) t
)
INSERT INTO rural_pension_accountyear (account_id, year, opening, personal, collective, other, payouts, rate, interest,
                                       closing)
SELECT account_id, year, opening, personal, collective, other, payouts, rate, interest, closing FROM w WHERE NOT seed
