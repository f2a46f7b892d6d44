-- Media: assets, uploads, renditions, captions, transcript cues, playback quality events.

ALTER TABLE media_assets ENABLE ROW LEVEL SECURITY;
ALTER TABLE media_assets FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON media_assets
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));

ALTER TABLE media_uploads ENABLE ROW LEVEL SECURITY;
ALTER TABLE media_uploads FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON media_uploads
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));

ALTER TABLE media_renditions ENABLE ROW LEVEL SECURITY;
ALTER TABLE media_renditions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON media_renditions
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));

ALTER TABLE media_captions ENABLE ROW LEVEL SECURITY;
ALTER TABLE media_captions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON media_captions
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));

ALTER TABLE media_playback_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE media_playback_events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON media_playback_events
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));

ALTER TABLE media_transcript_cues ENABLE ROW LEVEL SECURITY;
ALTER TABLE media_transcript_cues FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON media_transcript_cues
    USING (tenant_id = (select app.current_tenant()))
    WITH CHECK (tenant_id = (select app.current_tenant()));
