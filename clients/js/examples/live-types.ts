// Type check only (compiled with the examples, never run): the browser's
// WebSocket and the `ws` package's both fit openLiveFeed's WebSocket option.
import WS from 'ws';
import { openLiveFeed } from '@vigil/client/live';

export const inBrowser = () => openLiveFeed({ url: 'https://vigil.example.com', WebSocket });
export const inNode = () => openLiveFeed({ url: 'http://127.0.0.1:7601', WebSocket: WS, from: 0n });
