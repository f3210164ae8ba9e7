"""AccountYearFlow: the flows summed per account and year (credits by kind, payouts, month-products), so a
rate change walks the yearly tables over ~1.4 million small rows instead of re-reading ~3.6 million
flows. Filled here from the flows already stored (the same aggregate as ``services._SQL_SUMS`` at this
migration); the yearly tables already stored are unchanged (the same rule, the same flows)."""

import django.db.models.deletion
from django.db import migrations, models


FILL = """
INSERT INTO rural_pension_accountyearflow (account_id, year, personal, collective, other, payouts, weighted)
SELECT account_id, y,
       COALESCE(sum(c) FILTER (WHERE kind = 'personal'), 0) * 0.01,
       COALESCE(sum(c) FILTER (WHERE kind = 'collective'), 0) * 0.01,
       COALESCE(sum(c) FILTER (WHERE kind = 'other'), 0) * 0.01,
       COALESCE(sum(c) FILTER (WHERE kind = 'payout'), 0) * 0.01,
       sum(CASE WHEN kind = 'payout' THEN -c ELSE c END * (13 - m)) * 0.01
FROM (
    SELECT account_id, date_part('year', month)::int AS y, date_part('month', month)::int AS m, kind,
           (amount * 100)::bigint AS c
    FROM rural_pension_contribution
    UNION ALL
    SELECT account_id, date_part('year', month)::int, date_part('month', month)::int, 'payout', (amount * 100)::bigint
    FROM rural_pension_payout
) f
GROUP BY account_id, y
"""


class Migration(migrations.Migration):

    dependencies = [
        ('rural_pension', '0003_flows_without_fk_check'),
    ]

    operations = [
        migrations.CreateModel(
            name='AccountYearFlow',
            fields=[
                ('pk', models.CompositePrimaryKey('account', 'year', blank=True, editable=False, primary_key=True, serialize=False)),
                ('year', models.PositiveSmallIntegerField()),
                ('personal', models.DecimalField(decimal_places=2, max_digits=14)),
                ('collective', models.DecimalField(decimal_places=2, max_digits=14)),
                ('other', models.DecimalField(decimal_places=2, max_digits=14)),
                ('payouts', models.DecimalField(decimal_places=2, max_digits=14)),
                ('weighted', models.DecimalField(decimal_places=2, max_digits=16)),
                ('account', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='rural_pension.ruralaccount')),
            ],
            options={
                'verbose_name': '年账户流水合计',
            },
        ),
        migrations.RunSQL(FILL, migrations.RunSQL.noop),
    ]
