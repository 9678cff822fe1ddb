/**
 * Metric history chart: several runs overlaid on one canvas with uPlot (a small, fast
 * time-series library that draws hundreds of thousands of points interactively). Dragging
 * across the plot zooms on x; double-click resets.
 */

import uPlot from 'uplot';

import { alignSeries, IRunSeries } from './logic';

/** Line colours, distinguishable in light and dark themes. */
const COLORS = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#17becf',
  '#bcbd22',
  '#7f7f7f'
];

/** What the chart shows. */
export interface IChartInput {
  /** Metric name (y axis). */
  metric: string;
  /** X axis. */
  axis: 'step' | 'time';
  /** One series per run. */
  series: IRunSeries[];
}

/**
 * A uPlot chart in a host element. Exposes, on the host, `data-points` (points drawn) and
 * `data-render-ms` (time from data in hand to drawn canvas), which tests and the benchmark read.
 */
export class MetricChart {
  /**
   * @param host - element the chart lives in
   * @param zoomed - called with the x window after the user zooms (null when reset)
   */
  constructor(
    readonly host: HTMLElement,
    private readonly zoomed: (window: [number, number] | null) => void = () =>
      undefined
  ) {}

  /**
   * Draw (or redraw) the chart. Same metric, axis and runs: the data is swapped in place.
   *
   * @param input - what to draw
   * @param resetScales - fit the axes to the data (false keeps the user's zoom)
   */
  render(input: IChartInput, resetScales = true): void {
    const started = performance.now();
    const data = alignSeries(input.series, input.axis) as uPlot.AlignedData;
    const shape = `${input.metric}|${input.axis}|${input.series
      .map(s => s.runId)
      .join(',')}`;
    const points = input.series.reduce((n, s) => n + s.points.length, 0);
    this.host.dataset.points = String(points);
    this.host.dataset.runs = String(input.series.length);
    const done = () => {
      this.host.dataset.renderMs = (performance.now() - started).toFixed(1);
      this.host.dataset.renders = String(++this.renders);
    };
    if (this.plot && this.shape === shape) {
      this.pendingDone = done;
      this.plot.setData(data, resetScales);
      return;
    }
    this.destroy();
    this.shape = shape;
    this.pendingDone = done;
    const width = Math.max(this.host.clientWidth, 320);
    // Canvas strokes cannot use CSS variables: resolve the theme's colours now.
    const style = getComputedStyle(this.host);
    const ink = style.getPropertyValue('--jp-ui-font-color1').trim() || '#333';
    const grid = style.getPropertyValue('--jp-border-color2').trim() || '#ddd';
    const options: uPlot.Options = {
      width,
      height: 280,
      title: input.metric,
      scales: { x: { time: input.axis === 'time' } },
      axes: [
        {
          label: input.axis === 'step' ? 'step' : undefined,
          stroke: ink,
          grid: { stroke: grid }
        },
        {
          stroke: ink,
          grid: { stroke: grid },
          size: 60
        }
      ],
      cursor: { drag: { x: true, y: false } },
      series: [
        { label: input.axis },
        ...input.series.map((s, i) => ({
          label: s.label,
          stroke: COLORS[i % COLORS.length],
          width: 1.5,
          spanGaps: true,
          points: { show: s.points.length < 60 }
        }))
      ],
      hooks: {
        draw: [
          () => {
            this.pendingDone?.();
            this.pendingDone = null;
          }
        ],
        setSelect: [
          u => {
            if (u.select.width > 0) {
              const min = u.posToVal(u.select.left, 'x');
              const max = u.posToVal(u.select.left + u.select.width, 'x');
              this.zoomed([min, max]);
            }
          }
        ]
      }
    };
    this.plot = new uPlot(options, data, this.host);
    this.plot.over.addEventListener('dblclick', () => this.zoomed(null));
  }

  /** Follow the host's width. */
  resize(): void {
    if (this.plot) {
      this.plot.setSize({
        width: Math.max(this.host.clientWidth, 320),
        height: 280
      });
    }
  }

  /** Remove the chart. */
  destroy(): void {
    this.plot?.destroy();
    this.plot = null;
    this.shape = '';
  }

  private plot: uPlot | null = null;
  private shape = '';
  private renders = 0;
  private pendingDone: (() => void) | null = null;
}
