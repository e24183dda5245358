export type { SlidingWindow, WindowCounts } from './SlidingWindow.js';
export { CountWindow } from './CountWindow.js';
export { TimeWindow } from './TimeWindow.js';
