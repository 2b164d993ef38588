{#-
  Two rows of one threshold key whose [effective_from, effective_to] ranges overlap would leave a
  period with two limits (int_thresholds_by_period would silently pick one). A new policy closes the
  old row (effective_to) and opens a new one; this test fails the build when that was forgotten.
-#}

with

thresholds as (

    select
        threshold_key,
        effective_from,
        effective_to,
        {{ period_index('effective_from') }} as from_index,
        coalesce({{ period_index('effective_to') }}, 999999) as to_index
    from {{ ref('ref_policy_thresholds') }}

)

select
    a.threshold_key,
    a.effective_from,
    a.effective_to,
    b.effective_from as overlapping_from,
    b.effective_to as overlapping_to
from thresholds as a
inner join thresholds as b
    on
        a.threshold_key = b.threshold_key
        and a.effective_from < b.effective_from
        and a.to_index >= b.from_index
