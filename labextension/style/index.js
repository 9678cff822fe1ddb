import 'leaflet/dist/leaflet.css';
import './base.css';
