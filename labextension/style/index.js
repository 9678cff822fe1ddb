import 'leaflet/dist/leaflet.css';
import 'uplot/dist/uPlot.min.css';
import './base.css';
import './experiments.css';
