// When the page showed each past state, in the page's own clock
// (performance.now(), milliseconds): from the seek that asked for it (the
// scrubber's last move or key, a typed position) to the first frame
// painted with its views. The end-to-end test reads them
// (window.vigilShownTimes) to report how long a scrubbed position takes to
// appear, without polling (issue 21: within 100 ms); nothing else does.

export interface ShownTime {
  position: number;
  seekAt: number; // performance.now() of the seek
  // Of the request that brought it (0 when not known): asked, once the
  // debounce and any request in flight were done; answered, with the
  // timeline's events too.
  askedAt: number;
  answeredAt: number;
  shownAt: number; // performance.now() of the frame that painted it
}

// The last request's times (TravelClient), for the next recordShown.
let lastRequest = { position: -1, askedAt: 0, answeredAt: 0 };

export function recordRequest(position: number, askedAt: number, answeredAt: number) {
  lastRequest = { position, askedAt, answeredAt };
}

// The newest last; older ones are dropped past this many.
export const MAX_SHOWN_TIMES = 100;

export const shownTimes: ShownTime[] = [];

// Called once the views of `position` are in the DOM (a layout effect):
// records it at the next animation frame, the one that paints them.
export function recordShown(position: number, seekAt: number) {
  const { askedAt, answeredAt } = lastRequest.position === position ? lastRequest : { askedAt: 0, answeredAt: 0 };
  requestAnimationFrame(() => {
    shownTimes.push({ position, seekAt, askedAt, answeredAt, shownAt: performance.now() });
    if (shownTimes.length > MAX_SHOWN_TIMES) shownTimes.shift();
  });
}
