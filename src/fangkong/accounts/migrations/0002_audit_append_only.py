from django.db import migrations

from fangkong.accounts.db import set_append_only


def forwards(apps, schema_editor):
    set_append_only(schema_editor.connection, True)


def backwards(apps, schema_editor):
    set_append_only(schema_editor.connection, False)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
