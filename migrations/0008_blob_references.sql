-- The blob sweep (jobs.MaintenanceBlobSweep) asks, for a batch of blob keys,
-- which some row still names: level_models.blob_key (indexed in 0006),
-- emotes.video_key and generations.image_key.
CREATE INDEX emotes_video_key_idx ON emotes (video_key);
CREATE INDEX generations_image_key_idx ON generations (image_key) WHERE image_key <> '';
