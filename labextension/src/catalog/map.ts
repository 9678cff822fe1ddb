import * as L from 'leaflet';
import { feature } from 'topojson-client';
import type { GeometryCollection, Topology } from 'topojson-specification';
import land from 'world-atlas/land-110m.json';

import { IStacItem } from '../tokens';
import { FootprintCanvas, IFootprintStyle } from './footprints';

/** Style of a footprint, normal and highlighted. */
const FOOTPRINT: L.PathOptions = {
  color: '#e4690c',
  weight: 2,
  fillOpacity: 0.15,
  className: 'jp-mlops-footprint'
};
const HIGHLIGHT: L.PathOptions = { weight: 4, fillOpacity: 0.35 };
/** Style of the search box the user draws. */
const BOX: L.PathOptions = {
  color: 'var(--jp-brand-color1)',
  weight: 2,
  dashArray: '6 4',
  fillOpacity: 0.05,
  interactive: false,
  className: 'jp-mlops-bbox'
};
/** Icons of the box control: static SVG drawn with the current text colour. */
const svgIcon = (body: string) =>
  '<svg viewBox="0 0 16 16" width="16" height="16" aria-hidden="true" fill="none" ' +
  `stroke="currentColor" stroke-width="1.5">${body}</svg>`;
const ICONS = {
  draw: svgIcon(
    '<rect x="2.5" y="3.5" width="11" height="9" stroke-dasharray="2 1.5"/>'
  ),
  view: svgIcon(
    '<path d="M2 6V2h4M10 2h4v4M14 10v4h-4M6 14H2v-4"/><circle cx="8" cy="8" r="1.5"/>'
  ),
  clear: svgIcon('<path d="M4 4l8 8M12 4l-8 8"/>')
};

/** Above this many footprints, draw them on one canvas instead of one SVG path each. */
export const CANVAS_THRESHOLD = 500;

/**
 * `localStorage` key the browser benchmark sets to `geojson` to measure the former canvas path
 * (Leaflet GeoJSON layers on `L.canvas`) side by side with {@link FootprintCanvas}.
 */
export const BENCH_FOOTPRINTS_KEY = 'jp-mlops-bench-footprints';

/** What the map tells its owner. */
export interface ICatalogMapCallbacks {
  /** A footprint was clicked. */
  select: (id: string) => void;
  /** The pointer entered (id) or left (null) a footprint. */
  hover?: (id: string | null) => void;
  /** The search box was drawn, edited or cleared (null). */
  bbox?: (bbox: number[] | null) => void;
}

/**
 * A Leaflet map of result footprints over an offline world outline.
 *
 * The basemap is Natural Earth's 1:110m land, shipped in the bundle, so the map works with
 * no network; a tile URL can be layered on top when the user configures one.
 */
export class CatalogMap {
  /**
   * @param host - element the map fills
   * @param callbacks - selection, hover and search-box notifications
   */
  constructor(
    host: HTMLElement,
    private readonly callbacks: ICatalogMapCallbacks
  ) {
    this.map = L.map(host, {
      center: [20, 0],
      zoom: 1,
      minZoom: 1,
      worldCopyJump: true,
      attributionControl: false
    });
    const outline = feature(
      land as unknown as Topology,
      (land as unknown as Topology).objects.land as GeometryCollection
    );
    L.geoJSON(outline, {
      interactive: false,
      style: {
        color: 'var(--jp-border-color1)',
        weight: 1,
        fillColor: 'var(--jp-layout-color3)',
        fillOpacity: 1,
        className: 'jp-mlops-basemap'
      }
    }).addTo(this.map);
    this.footprints.addTo(this.map);
    this.addBoxControl();
    this.map.on('mousedown', this.onDrawStart, this);
    this.map.on('mousemove', this.onDrawMove, this);
    this.map.on('mouseup', this.onDrawEnd, this);
  }

  /** The current search box, or null. */
  get bbox(): number[] | null {
    if (!this.box) {
      return null;
    }
    const b = this.box.getBounds();
    return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()];
  }

  /**
   * Enter drawing mode: the next drag on the map draws the search box.
   */
  startDrawing(): void {
    this.drawing = true;
    this.drawStart = null;
    this.map.dragging.disable();
    this.map.boxZoom.disable();
    this.map.getContainer().classList.add('jp-mod-drawing');
  }

  /**
   * Show a search box with corner handles the user can drag to edit it.
   *
   * @param bbox - `[minx, miny, maxx, maxy]`, or null to remove it
   * @param notify - tell the owner (as if the user had drawn it)
   */
  setBbox(bbox: number[] | null, notify = false): void {
    this.box?.remove();
    this.handles.forEach(handle => handle.remove());
    this.box = null;
    this.handles = [];
    if (bbox) {
      const [w, s, e, n] = bbox;
      this.box = L.rectangle(
        [
          [s, w],
          [n, e]
        ],
        BOX
      ).addTo(this.map);
      this.handles = [
        [s, w],
        [n, e]
      ].map(corner => this.makeHandle(corner as L.LatLngTuple));
    }
    if (notify) {
      this.callbacks.bbox?.(this.bbox);
    }
  }

  /** Make the current view the search box. */
  useView(): void {
    this.setBbox(this.viewBbox(), true);
  }

  private makeHandle(corner: L.LatLngTuple): L.Marker {
    const handle = L.marker(corner, {
      draggable: true,
      keyboard: true,
      title: 'Drag to resize the search box',
      icon: L.divIcon({ className: 'jp-mlops-bbox-handle', iconSize: [12, 12] })
    }).addTo(this.map);
    handle.on('drag', () => this.followHandles());
    handle.on('dragend', () => {
      this.followHandles();
      this.callbacks.bbox?.(this.bbox);
    });
    return handle;
  }

  private followHandles(): void {
    if (this.box && this.handles.length === 2) {
      this.box.setBounds(
        L.latLngBounds(this.handles[0].getLatLng(), this.handles[1].getLatLng())
      );
    }
  }

  private onDrawStart(event: L.LeafletMouseEvent): void {
    if (!this.drawing) {
      return;
    }
    this.drawStart = event.latlng;
    this.setBbox(null);
    this.box = L.rectangle(
      L.latLngBounds(event.latlng, event.latlng),
      BOX
    ).addTo(this.map);
  }

  private onDrawMove(event: L.LeafletMouseEvent): void {
    if (this.drawing && this.drawStart && this.box) {
      this.box.setBounds(L.latLngBounds(this.drawStart, event.latlng));
    }
  }

  private onDrawEnd(event: L.LeafletMouseEvent): void {
    if (!this.drawing || !this.drawStart) {
      return;
    }
    const bounds = L.latLngBounds(this.drawStart, event.latlng);
    this.drawing = false;
    this.drawStart = null;
    this.map.dragging.enable();
    this.map.boxZoom.enable();
    this.map.getContainer().classList.remove('jp-mod-drawing');
    const wrapped = (v: number) => Math.max(-180, Math.min(180, v));
    this.setBbox(
      [
        wrapped(bounds.getWest()),
        Math.max(-90, bounds.getSouth()),
        wrapped(bounds.getEast()),
        Math.min(90, bounds.getNorth())
      ],
      true
    );
  }

  private addBoxControl(): void {
    const control = new L.Control({ position: 'topright' });
    control.onAdd = () => {
      const bar = L.DomUtil.create('div', 'leaflet-bar jp-mlops-box-control');
      const button = (
        cls: string,
        svg: string,
        label: string,
        run: () => void
      ) => {
        const b = L.DomUtil.create('button', cls, bar) as HTMLButtonElement;
        b.type = 'button';
        b.innerHTML = svg; // a constant icon from ICONS, never user data
        b.title = label;
        b.setAttribute('aria-label', label);
        L.DomEvent.on(b, 'click', event => {
          L.DomEvent.stop(event);
          run();
        });
      };
      button('jp-mlops-draw-box', ICONS.draw, 'Draw a search box', () =>
        this.startDrawing()
      );
      button(
        'jp-mlops-use-view',
        ICONS.view,
        'Search in the current view',
        () => this.useView()
      );
      button('jp-mlops-clear-box', ICONS.clear, 'Clear the search box', () =>
        this.setBbox(null, true)
      );
      L.DomEvent.disableClickPropagation(bar);
      return bar;
    };
    control.addTo(this.map);
  }

  /**
   * Show a tile layer under the footprints (e.g. an OSM-style URL template); empty removes it.
   *
   * @param url - tile URL template with `{z}/{x}/{y}`
   */
  setTileUrl(url: string): void {
    this.tiles?.remove();
    this.tiles = null;
    if (url) {
      this.tiles = L.tileLayer(url, { maxZoom: 18 }).addTo(this.map);
      this.tiles.bringToBack();
    }
  }

  /**
   * Current view as a STAC bbox, clamped to valid WGS84 bounds.
   *
   * @returns `[minx, miny, maxx, maxy]`
   */
  viewBbox(): number[] {
    const b = this.map.getBounds();
    const clamp = (v: number, lo: number, hi: number) =>
      Math.max(lo, Math.min(hi, v));
    return [
      clamp(b.getWest(), -180, 180),
      clamp(b.getSouth(), -90, 90),
      clamp(b.getEast(), -180, 180),
      clamp(b.getNorth(), -90, 90)
    ];
  }

  /**
   * Replace the footprints with those of the given items.
   *
   * @param items - results; items without geometry are skipped
   * @param append - keep the current footprints (next page)
   */
  showItems(items: IStacItem[], append = false): void {
    if (!append) {
      this.footprints.clearLayers();
      this.layers.clear();
      this.fast = null;
      this.highlighted = null;
    }
    const total = this.layers.size + (this.fast?.size ?? 0) + items.length;
    const legacy =
      globalThis.localStorage?.getItem(BENCH_FOOTPRINTS_KEY) === 'geojson';
    if (total > CANVAS_THRESHOLD && !legacy) {
      if (!this.fast) {
        this.fast = new FootprintCanvas(
          FOOTPRINT as IFootprintStyle,
          HIGHLIGHT as Partial<IFootprintStyle>,
          {
            select: id => this.callbacks.select(id),
            hover: id => this.callbacks.hover?.(id)
          }
        );
        this.footprints.addLayer(this.fast);
      }
      this.fast.add(items);
      return;
    }
    const renderer = total > CANVAS_THRESHOLD ? this.canvas : undefined;
    const features: GeoJSON.Feature[] = [];
    for (const item of items) {
      if (item.geometry) {
        features.push({
          type: 'Feature',
          geometry: item.geometry,
          properties: { id: item.id, title: item.properties.title ?? item.id }
        });
      }
    }
    // One layer for the whole page: one tooltip and one set of listeners, not one per item.
    const group = L.geoJSON(
      { type: 'FeatureCollection', features } as GeoJSON.FeatureCollection,
      {
        style: FOOTPRINT,
        renderer,
        pointToLayer: (_point, latlng) =>
          L.circleMarker(latlng, { ...FOOTPRINT, radius: 5, renderer }),
        onEachFeature: (feature, layer) => {
          this.layers.set(String(feature.properties.id), layer as L.Path);
        }
      } as L.GeoJSONOptions
    );
    const idOf = (event: L.LeafletEvent) =>
      String(
        (
          event as L.LeafletMouseEvent & {
            layer: L.Layer & { feature: GeoJSON.Feature };
          }
        ).layer.feature.properties?.id
      );
    group.on('click', event => this.callbacks.select(idOf(event)));
    group.on('mouseover', event => this.callbacks.hover?.(idOf(event)));
    group.on('mouseout', () => this.callbacks.hover?.(null));
    group.bindTooltip(
      layer =>
        String(
          (layer as L.Layer & { feature: GeoJSON.Feature }).feature.properties
            ?.title
        ),
      { sticky: true }
    );
    this.footprints.addLayer(group);
    if (!renderer) {
      // SVG path elements exist once the layer is on the map.
      group.eachLayer(layer => {
        const feature = (layer as L.Layer & { feature: GeoJSON.Feature })
          .feature;
        (layer as L.Path)
          .getElement?.()
          ?.setAttribute('data-item-id', String(feature.properties?.id));
      });
    }
  }

  /** Zoom to all footprints. */
  fitToResults(): void {
    const bounds = this.footprints.getBounds();
    if (bounds.isValid()) {
      this.map.fitBounds(bounds, { padding: [16, 16], maxZoom: 8 });
    }
  }

  /**
   * Highlight one footprint (or none).
   *
   * @param id - item id, or null to clear
   * @param zoom - also zoom to it
   */
  highlight(id: string | null, zoom = false): void {
    const fast = id !== null && this.fast?.has(id) ? this.fast : null;
    if (this.fast && (fast || this.highlighted !== null)) {
      this.fast.highlight(fast ? id : null);
    }
    if (fast && id !== null) {
      this.highlighted = id;
      const bounds = fast.boundsOf(id);
      if (bounds && zoom) {
        this.map.fitBounds(bounds, { padding: [24, 24], maxZoom: 8 });
      }
      return;
    }
    // Restyle only the footprints that change: thousands may be shown.
    if (this.highlighted !== null && this.highlighted !== id) {
      this.layers.get(this.highlighted)?.setStyle(FOOTPRINT);
    }
    const layer = id ? this.layers.get(id) : undefined;
    layer?.setStyle({ ...FOOTPRINT, ...HIGHLIGHT });
    layer?.bringToFront();
    this.highlighted = layer ? id : null;
    if (layer && zoom) {
      const bounds =
        layer instanceof L.Polyline
          ? layer.getBounds()
          : L.latLngBounds([(layer as L.CircleMarker).getLatLng()]);
      this.map.fitBounds(bounds, { padding: [24, 24], maxZoom: 8 });
    }
  }

  /** Recompute the map size after the panel was shown or resized. */
  refreshSize(): void {
    this.map.invalidateSize();
  }

  /** Release the map. */
  dispose(): void {
    this.map.remove();
  }

  private readonly map: L.Map;
  private readonly footprints = L.featureGroup();
  private readonly layers = new Map<string, L.Path>();
  private fast: FootprintCanvas | null = null;
  private highlighted: string | null = null;
  private tiles: L.TileLayer | null = null;
  private readonly canvas = L.canvas({ padding: 0.2 });
  private box: L.Rectangle | null = null;
  private handles: L.Marker[] = [];
  private drawing = false;
  private drawStart: L.LatLng | null = null;
}
