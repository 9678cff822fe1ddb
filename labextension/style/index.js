import 'leaflet/dist/leaflet.css';
import 'uplot/dist/uPlot.min.css';
import './base.css';
import './publish.css';
import './experiments.css';
