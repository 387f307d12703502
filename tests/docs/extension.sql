-- vital installed, with the two VITAL tenant apps, and nothing registered yet.
CREATE EXTENSION vital_tenancy;
SELECT vital.create_tenant('digital-health-startup', 'Digital Health Startup', '11111111-1111-1111-1111-111111111111');
SELECT vital.create_tenant('pharmaceuticals', 'Pharmaceuticals', 'f7aa6fd4-0af9-4706-8b31-034f1f7accda');
