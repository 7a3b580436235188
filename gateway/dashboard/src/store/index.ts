// The page's store instance (tests make their own with createDashboardStore).
import { useStore } from 'zustand';
import { createDashboardStore, type DashboardState } from './store';

export const store = createDashboardStore();

// One selector per field (STYLE.md): components re-render only when what
// they read changes.
export function useDashboard<T>(selector: (s: DashboardState) => T): T {
  return useStore(store, selector);
}
