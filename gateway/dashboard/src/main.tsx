import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { startDashboard, TOKEN_KEY } from './live/dashboard';
import { shownTimes } from './live/shownTimes';
import { store } from './store';
import './style.css';

// A token from ?token= (then kept in localStorage) or from an earlier visit.
const fromUrl = new URLSearchParams(location.search).get('token');
let saved = '';
try {
  saved = localStorage.getItem(TOKEN_KEY) ?? '';
} catch {
  // no storage
}
store.getState().setToken(fromUrl ?? saved);

// The live client runs outside React, for the page's lifetime.
const dashboard = startDashboard(store);
// For the end-to-end test and the browser console: the store, read-only use.
(window as unknown as { vigilStore: typeof store }).vigilStore = store;
// For the end-to-end test: when each past position was shown (shownTimes.ts).
(window as unknown as { vigilShownTimes: typeof shownTimes }).vigilShownTimes = shownTimes;

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App travel={dashboard.travel} traces={dashboard.traces} />
  </StrictMode>,
);
