/**
 * Thousands of result footprints on one canvas, without one Leaflet layer per footprint.
 *
 * Leaflet's GeoJSON layer makes a Polygon object per feature (LatLng objects, bounds, a
 * projection per point on every zoom, an event target each): about a second for 10,000
 * footprints here. This layer keeps every ring in one flat array projected once (Web Mercator
 * at zoom 0), draws all of them as one canvas path per frame, and finds the footprint under
 * the pointer with one map-level handler (bounding boxes, then point in polygon).
 */

import * as L from 'leaflet';

import { IStacItem } from '../tokens';

/** How a footprint is painted. */
export interface IFootprintStyle {
  color: string;
  weight: number;
  fillOpacity: number;
}

/** What the layer tells its owner. */
export interface IFootprintEvents {
  select: (id: string) => void;
  hover: (id: string | null) => void;
}

const TILE = 256;
/** Footprints narrower than this (px) are drawn as their bounding box. */
const SMALL = 6;
const MAX_LAT = 85.0511287798;

/** Web Mercator at zoom 0 (pixels of a 256 px world), as Leaflet's EPSG:3857 projects. */
function project(lon: number, lat: number, out: number[]): void {
  const phi = (Math.max(-MAX_LAT, Math.min(MAX_LAT, lat)) * Math.PI) / 180;
  out.push(
    ((lon + 180) / 360) * TILE,
    (0.5 - Math.log(Math.tan(Math.PI / 4 + phi / 2)) / (2 * Math.PI)) * TILE
  );
}

/** Outer and inner rings of a GeoJSON geometry, as lists of [lon, lat]. */
function rings(geometry: GeoJSON.Geometry): number[][][] {
  switch (geometry.type) {
    case 'Polygon':
      return geometry.coordinates;
    case 'MultiPolygon':
      return geometry.coordinates.flat();
    case 'LineString':
      return [geometry.coordinates];
    case 'MultiLineString':
      return geometry.coordinates;
    case 'Point':
      return [[geometry.coordinates]];
    case 'MultiPoint':
      return geometry.coordinates.map(point => [point]);
    case 'GeometryCollection':
      return geometry.geometries.flatMap(rings);
    default:
      return [];
  }
}

/**
 * One canvas of footprints, added to a Leaflet map like any layer.
 */
export class FootprintCanvas extends L.Layer {
  /**
   * @param style - normal style
   * @param highlight - style of the highlighted footprint (merged over `style`)
   * @param events - selection and hover notifications
   */
  constructor(
    private readonly style: IFootprintStyle,
    private readonly highlightStyle: Partial<IFootprintStyle>,
    private readonly events: IFootprintEvents
  ) {
    super();
  }

  /** Number of footprints held. */
  get size(): number {
    return this.ids.length;
  }

  /**
   * Add footprints (one pass: project, bound, index).
   *
   * @param items - results; items without geometry are skipped
   */
  add(items: IStacItem[]): void {
    const points: number[] = Array.from(this.points);
    const ringStarts = Array.from(this.ringStarts);
    const itemRings = Array.from(this.itemRings);
    const boxes = Array.from(this.boxes);
    for (const item of items) {
      if (!item.geometry) {
        continue;
      }
      const first = ringStarts.length;
      let minX = Infinity;
      let minY = Infinity;
      let maxX = -Infinity;
      let maxY = -Infinity;
      for (const ring of rings(item.geometry as GeoJSON.Geometry)) {
        ringStarts.push(points.length);
        for (const [lon, lat] of ring) {
          project(lon, lat, points);
          const x = points[points.length - 2];
          const y = points[points.length - 1];
          minX = Math.min(minX, x);
          maxX = Math.max(maxX, x);
          minY = Math.min(minY, y);
          maxY = Math.max(maxY, y);
          this.west = Math.min(this.west, lon);
          this.east = Math.max(this.east, lon);
          this.south = Math.min(this.south, lat);
          this.north = Math.max(this.north, lat);
        }
      }
      if (ringStarts.length === first) {
        continue;
      }
      this.index.set(item.id, this.ids.length);
      this.ids.push(item.id);
      this.titles.push(item.properties.title ?? item.id);
      itemRings.push(first);
      boxes.push(minX, minY, maxX, maxY);
    }
    this.points = Float64Array.from(points);
    this.ringStarts = Int32Array.from(ringStarts);
    this.itemRings = Int32Array.from(itemRings);
    this.boxes = Float64Array.from(boxes);
    this.redraw();
  }

  /** Whether a footprint of this id is drawn here. */
  has(id: string): boolean {
    return this.index.has(id);
  }

  /** Geographic bounds of all footprints (for fitting the map). */
  getBounds(): L.LatLngBounds {
    return L.latLngBounds([
      [this.south, this.west],
      [this.north, this.east]
    ]);
  }

  /**
   * Geographic bounds of one footprint.
   *
   * @param id - item id
   * @returns its bounds, or null if it is not here
   */
  boundsOf(id: string): L.LatLngBounds | null {
    const n = this.index.get(id);
    if (n === undefined) {
      return null;
    }
    const b = this.boxes.subarray(4 * n, 4 * n + 4);
    const crs = L.CRS.EPSG3857;
    return L.latLngBounds(
      crs.pointToLatLng(L.point(b[0], b[3]), 0),
      crs.pointToLatLng(L.point(b[2], b[1]), 0)
    );
  }

  /**
   * Draw one footprint over the others with the highlight style (or none).
   *
   * @param id - item id, or null
   */
  highlight(id: string | null): void {
    const n = id === null ? undefined : this.index.get(id);
    this.highlighted = n ?? -1;
    this.redraw();
  }

  onAdd(map: L.Map): this {
    this.canvas = L.DomUtil.create(
      'canvas',
      'jp-mlops-footprints-canvas leaflet-zoom-hide'
    ) as HTMLCanvasElement;
    this.canvas.style.pointerEvents = 'none';
    map.getPanes().overlayPane.appendChild(this.canvas);
    map.on('moveend zoomend resize viewreset', this.redraw, this);
    map.on('mousemove', this.onMove, this);
    map.on('click', this.onClick, this);
    map.on('mouseout', this.onOut, this);
    this.redraw();
    return this;
  }

  onRemove(map: L.Map): this {
    map.off('moveend zoomend resize viewreset', this.redraw, this);
    map.off('mousemove', this.onMove, this);
    map.off('click', this.onClick, this);
    map.off('mouseout', this.onOut, this);
    this.onOut();
    if (this.frameRequest !== null) {
      cancelAnimationFrame(this.frameRequest);
      this.frameRequest = null;
    }
    this.canvas?.remove();
    this.canvas = null;
    return this;
  }

  /** Paint on the next animation frame (adding a page and fitting the map ask several times). */
  redraw(): void {
    if (this.frameRequest === null) {
      this.frameRequest = requestAnimationFrame(() => {
        this.frameRequest = null;
        this.draw();
      });
    }
  }

  /** Paint every footprint in view as one path, then the highlighted one. */
  private draw(): void {
    const map = this._map as L.Map | undefined;
    const canvas = this.canvas;
    if (!map || !canvas) {
      return;
    }
    const size = map.getSize();
    const ratio = window.devicePixelRatio || 1;
    const topLeft = map.containerPointToLayerPoint([0, 0]);
    L.DomUtil.setPosition(canvas, topLeft);
    canvas.width = size.x * ratio;
    canvas.height = size.y * ratio;
    canvas.style.width = `${size.x}px`;
    canvas.style.height = `${size.y}px`;
    const ctx = canvas.getContext('2d');
    if (!ctx) {
      return;
    }
    const { scale, ox, oy } = this.frame(map);
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.beginPath();
    const w = size.x;
    const h = size.y;
    for (let n = 0; n < this.ids.length; n++) {
      const b = 4 * n;
      // Skip what is out of view: a pan over a dense catalog draws only the visible part.
      if (
        this.boxes[b + 2] * scale - ox < 0 ||
        this.boxes[b] * scale - ox > w ||
        this.boxes[b + 3] * scale - oy < 0 ||
        this.boxes[b + 1] * scale - oy > h
      ) {
        continue;
      }
      const width = (this.boxes[b + 2] - this.boxes[b]) * scale;
      const height = (this.boxes[b + 3] - this.boxes[b + 1]) * scale;
      if (width < SMALL && height < SMALL && !this.isPoint(n)) {
        // A few pixels wide: its box is what the eye sees, at a fifth of the path commands.
        ctx.rect(
          this.boxes[b] * scale - ox,
          this.boxes[b + 1] * scale - oy,
          width,
          height
        );
        continue;
      }
      this.trace(ctx, n, scale, ox, oy);
    }
    this.paint(ctx, this.style);
    if (this.highlighted >= 0) {
      ctx.beginPath();
      this.trace(ctx, this.highlighted, scale, ox, oy);
      this.paint(ctx, { ...this.style, ...this.highlightStyle });
    }
  }

  private frame(map: L.Map): { scale: number; ox: number; oy: number } {
    const scale = 2 ** map.getZoom();
    const origin = map
      .getPixelOrigin()
      .add(map.containerPointToLayerPoint([0, 0]));
    return { scale, ox: origin.x, oy: origin.y };
  }

  private trace(
    ctx: CanvasRenderingContext2D,
    n: number,
    scale: number,
    ox: number,
    oy: number
  ): void {
    const firstRing = this.itemRings[n];
    const lastRing =
      n + 1 < this.itemRings.length
        ? this.itemRings[n + 1]
        : this.ringStarts.length;
    for (let r = firstRing; r < lastRing; r++) {
      const start = this.ringStarts[r];
      const end =
        r + 1 < this.ringStarts.length
          ? this.ringStarts[r + 1]
          : this.points.length;
      const x0 = this.points[start] * scale - ox;
      const y0 = this.points[start + 1] * scale - oy;
      if (end - start === 2) {
        // A point: a small circle.
        ctx.moveTo(x0 + 5, y0);
        ctx.arc(x0, y0, 5, 0, 2 * Math.PI);
        continue;
      }
      ctx.moveTo(x0, y0);
      for (let i = start + 2; i < end; i += 2) {
        ctx.lineTo(
          this.points[i] * scale - ox,
          this.points[i + 1] * scale - oy
        );
      }
      ctx.closePath();
    }
  }

  private paint(ctx: CanvasRenderingContext2D, style: IFootprintStyle): void {
    ctx.globalAlpha = style.fillOpacity;
    ctx.fillStyle = style.color;
    ctx.fill('evenodd');
    ctx.globalAlpha = 1;
    ctx.strokeStyle = style.color;
    ctx.lineWidth = style.weight;
    ctx.stroke();
  }

  /** The footprint under a container point: the smallest whose polygon holds it. */
  private hit(point: L.Point): number {
    const map = this._map as L.Map;
    const { scale, ox, oy } = this.frame(map);
    const x = (point.x + ox) / scale;
    const y = (point.y + oy) / scale;
    const slop = 4 / scale;
    let best = -1;
    let bestArea = Infinity;
    for (let n = 0; n < this.ids.length; n++) {
      const b = 4 * n;
      const [minX, minY, maxX, maxY] = [
        this.boxes[b] - slop,
        this.boxes[b + 1] - slop,
        this.boxes[b + 2] + slop,
        this.boxes[b + 3] + slop
      ];
      if (x < minX || x > maxX || y < minY || y > maxY) {
        continue;
      }
      const area = (maxX - minX) * (maxY - minY);
      if (area < bestArea && (this.isPoint(n) || this.inside(n, x, y))) {
        best = n;
        bestArea = area;
      }
    }
    return best;
  }

  private isPoint(n: number): boolean {
    const r = this.itemRings[n];
    const end =
      r + 1 < this.ringStarts.length
        ? this.ringStarts[r + 1]
        : this.points.length;
    return end - this.ringStarts[r] === 2;
  }

  /** Even-odd point in polygon over all rings of footprint `n`. */
  private inside(n: number, x: number, y: number): boolean {
    let inside = false;
    const lastRing =
      n + 1 < this.itemRings.length
        ? this.itemRings[n + 1]
        : this.ringStarts.length;
    for (let r = this.itemRings[n]; r < lastRing; r++) {
      const start = this.ringStarts[r];
      const end =
        r + 1 < this.ringStarts.length
          ? this.ringStarts[r + 1]
          : this.points.length;
      for (let i = start, j = end - 2; i < end; j = i, i += 2) {
        const [xi, yi, xj, yj] = [
          this.points[i],
          this.points[i + 1],
          this.points[j],
          this.points[j + 1]
        ];
        if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) {
          inside = !inside;
        }
      }
    }
    return inside;
  }

  private onMove(event: L.LeafletMouseEvent): void {
    const n = this.hit(event.containerPoint);
    const map = this._map as L.Map;
    map.getContainer().classList.toggle('jp-mod-footprint-hover', n >= 0);
    if (n >= 0) {
      this.tooltip.setLatLng(event.latlng).setContent(this.titles[n]);
      if (!map.hasLayer(this.tooltip)) {
        map.openTooltip(this.tooltip);
      }
    } else {
      this.tooltip.remove();
    }
    if (n !== this.hovered) {
      this.hovered = n;
      this.events.hover(n >= 0 ? this.ids[n] : null);
    }
  }

  private onOut(): void {
    this.tooltip.remove();
    if (this.hovered >= 0) {
      this.hovered = -1;
      this.events.hover(null);
    }
  }

  private onClick(event: L.LeafletMouseEvent): void {
    const n = this.hit(event.containerPoint);
    if (n >= 0) {
      this.events.select(this.ids[n]);
    }
  }

  private canvas: HTMLCanvasElement | null = null;
  private ids: string[] = [];
  private titles: string[] = [];
  private readonly index = new Map<string, number>();
  private points = new Float64Array(0);
  private ringStarts = new Int32Array(0);
  private itemRings = new Int32Array(0);
  private boxes = new Float64Array(0);
  private west = Infinity;
  private south = Infinity;
  private east = -Infinity;
  private north = -Infinity;
  private highlighted = -1;
  private frameRequest: number | null = null;
  private hovered = -1;
  private readonly tooltip = L.tooltip({ sticky: true, direction: 'top' });
}
