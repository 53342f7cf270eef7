"""The Jinja2 template of the supervision report (rendered with autoescaping on)."""

from __future__ import annotations

from typing import Final

__all__ = ["TEMPLATE"]

TEMPLATE: Final = """\
<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="govlink">
<title>{{ title }} · {{ at }}</title>
<style>
:root {
  --ink: #1f2933; --muted: #5f6b7a; --line: #d9dee5; --paper: #ffffff; --wash: #f4f6f9;
  --on_time: #2f855a; --warning: #3b7dd8; --yellow: #d9a400; --red: #c53030;
  --legal: #9aa5b1; --promised: #2b6cb0; --days: #4c8c8a;
}
* { box-sizing: border-box; }
body {
  margin: 0; background: var(--wash); color: var(--ink);
  font: 14px/1.5 system-ui, -apple-system, "Segoe UI", "Noto Sans CJK SC", "Noto Sans SC",
    "PingFang SC", "Microsoft YaHei", "WenQuanYi Micro Hei", sans-serif;
}
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 40px; }
header { border-bottom: 3px solid var(--red); padding-bottom: 12px; margin-bottom: 18px; }
h1 { font-size: 24px; margin: 0 0 4px; letter-spacing: .02em; }
h2 { font-size: 16px; margin: 0; }
h2 .zh { color: var(--muted); font-weight: 500; margin-left: 6px; }
.meta { color: var(--muted); margin: 0; }
.kpis { display: grid; grid-template-columns: repeat(auto-fit, minmax(128px, 1fr)); gap: 10px;
  margin-bottom: 18px; }
.kpi { background: var(--paper); border: 1px solid var(--line); border-radius: 8px;
  padding: 10px 12px; border-top: 4px solid var(--line); }
.kpi .value { font-size: 24px; font-weight: 700; display: block; }
.kpi .name { color: var(--muted); font-size: 12px; }
.kpi.on_time { border-top-color: var(--on_time); } .kpi.warning { border-top-color: var(--warning); }
.kpi.yellow { border-top-color: var(--yellow); } .kpi.red { border-top-color: var(--red); }
.charts { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 14px; }
figure { margin: 0; background: var(--paper); border: 1px solid var(--line); border-radius: 8px;
  padding: 14px 16px 10px; break-inside: avoid; }
figure.wide { grid-column: 1 / -1; }
figcaption { margin-bottom: 8px; }
figcaption .sub { color: var(--muted); font-size: 12px; display: block; }
svg.chart { width: 100%; height: auto; display: block; }
svg .label { font-size: 12px; fill: var(--ink); }
svg .tick { font-size: 11px; fill: var(--muted); }
svg .value { font-size: 11px; fill: var(--ink); font-weight: 600; }
svg .small { font-size: 10px; font-weight: 500; }
svg .note { font-size: 11px; fill: var(--promised); font-weight: 700; }
svg .grid { stroke: #eceff3; stroke-width: 1; }
svg .axis { stroke: #9aa5b1; stroke-width: 1; }
.on_time { fill: var(--on_time); } .warning { fill: var(--warning); }
.yellow { fill: var(--yellow); } .red { fill: var(--red); }
.legal { fill: var(--legal); } .promised { fill: var(--promised); } .days { fill: var(--days); }
.s-new { fill: #a0aec0; } .s-running { fill: var(--warning); } .s-paused { fill: #dd8a2b; }
.s-concluded { fill: var(--on_time); } .s-ended { fill: #718096; }
.legend { list-style: none; padding: 0; margin: 6px 0 0; display: flex; flex-wrap: wrap;
  gap: 4px 14px; font-size: 12px; color: var(--muted); }
.legend svg { width: 11px; height: 11px; vertical-align: -1px; margin-right: 4px; }
section.flagged { margin-top: 18px; background: var(--paper); border: 1px solid var(--line);
  border-radius: 8px; padding: 14px 16px; }
table { width: 100%; border-collapse: collapse; font-size: 12px; margin-top: 8px; }
th, td { text-align: left; padding: 5px 6px; border-bottom: 1px solid var(--line);
  vertical-align: top; }
th { background: var(--wash); font-weight: 600; white-space: nowrap; }
th .zh { display: block; color: var(--muted); font-weight: 500; }
td.case { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 11px;
  word-break: break-all; max-width: 190px; }
td.date, td.timing { white-space: nowrap; }
tr { break-inside: avoid; }
.badge { display: inline-block; padding: 1px 7px; border-radius: 10px; color: #fff;
  font-weight: 600; white-space: nowrap; }
.badge.warning { background: var(--warning); } .badge.yellow { background: var(--yellow); color: #1f2933; }
.badge.red { background: var(--red); }
.paused { color: #b7791f; font-size: 11px; display: block; }
.empty { color: var(--muted); }
footer { color: var(--muted); font-size: 12px; margin-top: 16px; }
@media (max-width: 820px) { .charts { grid-template-columns: 1fr; } }
@page { size: A4; margin: 14mm 12mm; }
@media print {
  body { background: #fff; font-size: 11px; }
  main { max-width: none; padding: 0; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  .charts { grid-template-columns: 1fr 1fr; gap: 8px; }
  figure, section.flagged, .kpi { border-color: #bbb; }
  thead { display: table-header-group; }
  section.flagged { break-before: page; }
}
</style>
</head>
<body>
<main>
<header>
  <h1>{{ title }}</h1>
  <p class="meta">at 统计时点 <strong>{{ at }}</strong> · deadline basis 监察依据 {{ basis }} ·
  预警 warning at ≤{{ limits.warning_working_days }} working day(s) or
  ≤{{ "%.0f" % (limits.warning_fraction * 100) }}% of the limit left ·
  黄牌 yellow at {{ limits.yellow_overdue_working_days }}, 红牌 red at
  ≥{{ limits.red_overdue_working_days }} working days overdue
  {% if no_deadline %} · {{ no_deadline }} case(s) without a deadline 无时限{% endif %}</p>
</header>
<section class="kpis" aria-label="key figures 关键指标">
{% for name, value, css in kpis %}
  <div class="kpi {{ css }}"><span class="value">{{ value }}</span><span class="name">{{ name }}</span></div>
{% endfor %}
</section>
<section class="charts">
{% for title_en, title_zh, sub, chart in charts %}
  <figure class="{{ "wide" if loop.index == 3 else "" }}">
    <figcaption><h2>{{ title_en }}<span class="zh">{{ title_zh }}</span></h2>
    <span class="sub">{{ sub }}</span></figcaption>
    <svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {{ chart.width }} {{ chart.height }}"
      role="img" aria-label="{{ chart.description }}">
    {% for s in chart.shapes %}
      {% if s.kind == "rect" %}
      {% if s.width > 0 and s.height > 0 %}
      <rect class="bar {{ s.css }}" x="{{ '%.1f' % s.x }}" y="{{ '%.1f' % s.y }}" width="{{ '%.1f' % s.width }}" height="{{ '%.1f' % s.height }}" rx="2"><title>{{ s.tooltip }}</title></rect>
      {% endif %}
      {% elif s.kind == "text" %}
      <text class="{{ s.css }}" x="{{ '%.1f' % s.x }}" y="{{ '%.1f' % s.y }}" text-anchor="{{ s.anchor }}">{{ s.text }}</text>
      {% else %}
      <line class="{{ s.css }}" x1="{{ '%.1f' % s.x1 }}" y1="{{ '%.1f' % s.y1 }}" x2="{{ '%.1f' % s.x2 }}" y2="{{ '%.1f' % s.y2 }}"/>
      {% endif %}
    {% endfor %}
    </svg>
    {% if chart.legend | length > 1 %}
    <ul class="legend">
    {% for series in chart.legend %}
      <li><svg viewBox="0 0 10 10" aria-hidden="true"><rect class="{{ series.css }}" width="10" height="10" rx="2"/></svg>{{ series.label }}</li>
    {% endfor %}
    </ul>
    {% endif %}
  </figure>
{% endfor %}
</section>
<section class="flagged">
  <h2>Flagged cases<span class="zh">预警、黄牌、红牌办件</span></h2>
  <p class="meta">{{ flagged | length }} case(s), worst first; applicants masked 申请人已脱敏</p>
  {% if flagged %}
  <table>
    <thead><tr>
      <th>level<span class="zh">级别</span></th><th>case<span class="zh">办件编号</span></th>
      <th>hall<span class="zh">受理大厅</span></th><th>department / item<span class="zh">实施部门 / 事项</span></th>
      <th>applicant<span class="zh">申请人</span></th><th>status<span class="zh">状态</span></th>
      <th>promised<span class="zh">承诺期限</span></th><th>legal<span class="zh">法定期限</span></th>
      <th>timing<span class="zh">超期 / 剩余</span></th>
    </tr></thead>
    <tbody>
    {% for row in flagged %}
      <tr class="{{ row.level }}">
        <td><span class="badge {{ row.level }}">{{ row.level_label }}</span></td>
        <td class="case">{{ row.case_number }}</td>
        <td>{{ row.hall }}</td>
        <td>{{ row.department }}<br><span class="meta">{{ row.item }}</span></td>
        <td>{{ row.applicant }}</td>
        <td>{{ row.status }}{% if row.paused %}<span class="paused">clock paused 暂停计时</span>{% endif %}</td>
        <td class="date">{{ row.promised }}</td>
        <td class="date">{{ row.legal }}</td>
        <td class="timing">{{ row.timing }}</td>
      </tr>
    {% endfor %}
    </tbody>
  </table>
  {% else %}
  <p class="empty">No case is flagged. 无预警办件。</p>
  {% endif %}
</section>
<footer>Generated by govlink · working days follow the holiday data in use · deadlines per
Administrative Licensing Law §42, §45, §82 (acceptance day not counted; 补正 and 特别程序 pause the clock).</footer>
</main>
</body>
</html>
"""  # noqa: E501 - template markup reads better unwrapped
