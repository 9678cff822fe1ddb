import * as L from 'leaflet';
import { feature } from 'topojson-client';
import type { GeometryCollection, Topology } from 'topojson-specification';
import land from 'world-atlas/land-110m.json';

import { IStacItem } from '../tokens';

/** Style of a footprint, normal and highlighted. */
const FOOTPRINT: L.PathOptions = {
  color: '#e4690c',
  weight: 2,
  fillOpacity: 0.15,
  className: 'jp-mlops-footprint'
};
const HIGHLIGHT: L.PathOptions = { weight: 4, fillOpacity: 0.35 };

/**
 * A Leaflet map of result footprints over an offline world outline.
 *
 * The basemap is Natural Earth's 1:110m land, shipped in the bundle, so the map works with
 * no network; a tile URL can be layered on top when the user configures one.
 */
export class CatalogMap {
  /**
   * @param host - element the map fills
   * @param onSelect - called with an item id when its footprint is clicked
   */
  constructor(
    host: HTMLElement,
    private readonly onSelect: (id: string) => void
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
    }
    for (const item of items) {
      if (!item.geometry) {
        continue;
      }
      const layer = L.geoJSON(item.geometry, { style: FOOTPRINT });
      layer.on('click', () => this.onSelect(item.id));
      layer.bindTooltip(item.properties.title ?? item.id, { sticky: true });
      this.footprints.addLayer(layer);
      // Path elements exist once the layer is on the map.
      layer.eachLayer(path => {
        (path as L.Path).getElement?.()?.setAttribute('data-item-id', item.id);
      });
      this.layers.set(item.id, layer);
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
    this.layers.forEach((layer, key) => {
      layer.setStyle(key === id ? { ...FOOTPRINT, ...HIGHLIGHT } : FOOTPRINT);
    });
    const layer = id ? this.layers.get(id) : undefined;
    if (layer && zoom) {
      this.map.fitBounds(layer.getBounds(), { padding: [24, 24], maxZoom: 8 });
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
  private readonly layers = new Map<string, L.GeoJSON>();
  private tiles: L.TileLayer | null = null;
}
