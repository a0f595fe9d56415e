/** A uPlot chart as a Preact component: built on mount and whenever its data changes, sized to its box. */
import { html } from 'htm/preact';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

export interface ChartProps {
  /** Options without width (taken from the container). */
  options: Omit<uPlot.Options, 'width'>;
  data: uPlot.AlignedData;
  title: string;
  test: string;
}

export function Chart({ options, data, title, test }: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const width = () => Math.max(240, Math.floor(el.clientWidth));
    const plot = new uPlot({ ...options, width: width() }, data, el);
    const ro = new ResizeObserver(() => {
      const w = width();
      if (w !== plot.width) plot.setSize({ width: w, height: options.height });
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.destroy();
    };
  }, [options, data]);
  return html`<figure class="chart" data-test=${test}>
    <figcaption>${title}</figcaption>
    <div class="chart-box" ref=${box} role="img" aria-label=${title}></div>
  </figure>`;
}

/** Axis values in seconds as a readable duration (minutes/hours). */
export function durationTick(v: number): string {
  if (v == null) return '';
  if (v < 60) return `${Math.round(v)}s`;
  if (v < 3600) return `${Math.round(v / 60)}m`;
  if (v < 86400 * 2) return `${Math.round((v / 3600) * 10) / 10}h`;
  return `${Math.round((v / 86400) * 10) / 10}d`;
}

export const bars = (uPlot.paths.bars as NonNullable<uPlot.Series.PathBuilderFactories['bars']>)({ size: [0.7, 60], align: 0 });
