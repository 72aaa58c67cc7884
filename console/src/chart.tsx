// A small time-series plot (uPlot: ~50 kB, canvas, made for exactly this) that follows its
// container's width.

import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Series {
  label: string;
  values: (number | null)[];
}

export function Chart(props: { title: string; unit: string; times: number[]; series: Series[] }) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | undefined>(undefined);
  const colours = ['#2563eb', '#d97706', '#059669', '#dc2626'];
  const data = (): uPlot.AlignedData => [props.times, ...props.series.map((s) => s.values)];

  useEffect(() => {
    const el = host.current!;
    const width = () => Math.max(240, el.clientWidth);
    const u = new uPlot(
      {
        width: width(),
        height: 160,
        series: [{}, ...props.series.map((s, i) => ({ label: s.label, stroke: colours[i % colours.length], width: 2, spanGaps: false }))],
        axes: [{ values: (_u, splits) => splits.map((t) => new Date(t * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' })) }, { label: props.unit, size: 60 }],
        scales: { y: { range: (_u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] } },
        legend: { live: false },
      },
      data(),
      el,
    );
    plot.current = u;
    const ro = new ResizeObserver(() => u.setSize({ width: width(), height: 160 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
    };
  }, [props.series.length]);

  useEffect(() => {
    plot.current?.setData(data());
  });

  return (
    <figure class="chart" aria-label={props.title}>
      <figcaption>{props.title}</figcaption>
      <div ref={host} />
    </figure>
  );
}
