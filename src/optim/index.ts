export { SGD, type SGDOptions } from './sgd.js';
export { lrAt, oneCycleAt, LR_SCHEDULES, ONE_CYCLE, type LrSchedule, type LrScheduleKind, type LrAt } from './lr-schedule.js';
