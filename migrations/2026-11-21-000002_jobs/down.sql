DROP TABLE scheduler_ticks;
DROP TABLE health_checks;
DROP TABLE alerts;
DROP TABLE exports;
DROP TABLE email_outbox;
DROP TABLE queues;
DROP TABLE jobs;
