{#- Generic test: every row satisfies a boolean SQL expression (optionally only where a condition holds). -#}
{% test expression_is_true(model, expression, condition=none) %}

select * from {{ model }}
where
    {% if condition %}({{ condition }}) and {% endif %}
    not coalesce(({{ expression }}), false)

{% endtest %}
